"""One FHIR interaction, through the same steps as a GraphQL request: the bearer token into
claims (auth/authenticate.py), the same rate limits, one claimed transaction opened on first
use by the request context (context.py), the PHI audit events written at commit, and every
failure answered as an OperationOutcome without database text."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson
from starlette.requests import Request
from starlette.responses import Response

from wardgraph import errors
from wardgraph.context import RequestContext, new_request_id
from wardgraph.errors import AppError
from wardgraph.server import gate
from wardgraph.server.errors import app_error_of
from wardgraph.server.fhir.outcomes import client_message, internal, outcome, status_of
from wardgraph.server.metrics import CODE_KEY, REQUEST_ID_KEY
from wardgraph.server.ratelimit import RateLimited

log = logging.getLogger("wardgraph.fhir")

FHIR_JSON = "application/fhir+json"


@dataclass
class Answer:
    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RequestContext, Request], Awaitable[Answer]]


def fhir_response(answer: Answer) -> Response:
    # orjson writes the same bytes for the same answer: two NOT_FOUNDs compare byte for byte.
    return Response(orjson.dumps(answer.body), status_code=answer.status,
                    media_type=FHIR_JSON, headers=answer.headers)


def refusal(error: AppError) -> Answer:
    return Answer(outcome(error.code, client_message(error), error.field),
                  status_of(error.code))


async def admit(context: RequestContext, request: Request) -> None:
    """Authenticate and count the request against its caller's allowance, as /graphql does."""
    services = request.app.state.services
    await gate.admit(context, request, services.failed_auth, services.limiter)


async def run(request: Request, handler: Handler) -> Answer:
    request_id = str(request.scope.get(REQUEST_ID_KEY) or new_request_id())
    context = RequestContext(state=request.app.state.wardgraph, request=request,
                             request_id=request_id)
    committed = False
    try:
        await admit(context, request)
        answer = await handler(context, request)
        await context.finish(commit=True)
        committed = True
        return answer
    except RateLimited as limited:
        return Answer(outcome(errors.RATE_LIMITED, "Too many requests; try again later"), 429,
                      {"Retry-After": str(limited.retry_after)})
    except Exception as error:
        known = app_error_of(error)
        if known is None or known.code == errors.INTERNAL:
            log.error("internal error (request %s)", request_id, exc_info=error)
            return Answer(internal(request_id), 500)
        return refusal(known)
    finally:
        if not committed:
            try:
                await context.finish(commit=False)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                log.warning("rollback failed (request %s)", request_id)


async def serve(request: Request, handler: Handler) -> Response:
    answer = await run(request, handler)
    code = answer.body.get("issue", [{}])[0].get("details", {}).get("text") if (
        answer.body.get("resourceType") == "OperationOutcome") else "OK"
    request.scope[CODE_KEY] = code or "OK"
    return fhir_response(answer)


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object; anything else is refused in FHIR terms."""
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise errors.invalid("body", "The body is not JSON") from None
    if not isinstance(body, dict):
        raise errors.invalid("body", "The body must be a JSON object (a FHIR resource)")
    return body
