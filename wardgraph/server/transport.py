"""GraphQL over HTTP as clients expect it (the GraphQL-over-HTTP specification).

- The response media type follows the Accept header: `application/graphql-response+json` or
  `application/json` (also for `*/*`, `application/*` and no Accept at all); an Accept that
  allows neither answers 406.
- A request error (the document did not parse or validate, or a limit refused it: no execution
  and so no `data`) answers 4xx with `application/graphql-response+json`, and 200 with
  `application/json`, whose older clients read the body whatever the status.
- A mutation over GET answers 405 with `Allow: POST`.
- Refusals before GraphQL runs (405, 406, 413, 415, 429, a malformed body) have a JSON body of
  the usual shape: `{"errors": [{"message", "extensions": {"code"}}]}`.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLError
from starlette.responses import Response

from wardgraph import errors

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
BAD_REQUEST = "BAD_REQUEST"


class HttpRefusal(Exception):
    """A request refused before GraphQL runs, with its status, code and headers."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    """(media type, q) of each range of an Accept header."""
    ranges = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            ranges.append((media.lower(), q))
    return ranges


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when the client accepts neither we speak."""
    if not accept or not accept.strip():
        return JSON
    best: tuple[float, int, str] | None = None
    for media, q in _media_ranges(accept):
        if q <= 0:
            continue
        if media == GRAPHQL_RESPONSE_JSON:
            # On a tie, the spec's own media type wins.
            candidate = (q, 1, GRAPHQL_RESPONSE_JSON)
        elif media in (JSON, "application/*", "*/*"):
            candidate = (q, 0, JSON)
        else:
            continue
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def is_request_error(data: Any, graphql_errors: list[GraphQLError] | None) -> bool:
    """No data and only errors from before execution (parse, validation, variables, limits)."""
    return data is None and bool(graphql_errors) and all(
        error.path is None for error in graphql_errors or ())


def request_error_status(codes: list[str]) -> int:
    """The 4xx/5xx of a request error answered as application/graphql-response+json."""
    if errors.SERVICE_UNAVAILABLE in codes:
        return 503
    if errors.INTERNAL in codes:
        return 500
    return 400


def error_body(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]}).encode()


def refusal_response(refusal: HttpRefusal, media_type: str = JSON) -> Response:
    return Response(error_body(refusal.code, refusal.message), status_code=refusal.status,
                    media_type=media_type, headers=refusal.headers)


def parsing_refusal(status: int, reason: str) -> HttpRefusal:
    """A strawberry HTTP error (malformed JSON, a missing query, a wrong method) as ours."""
    if status == 400 and reason == "Unsupported content type":
        return HttpRefusal(415, BAD_REQUEST, "Send the request as application/json (POST) "
                           "or as URL parameters (GET)")
    return HttpRefusal(status, BAD_REQUEST, reason)
