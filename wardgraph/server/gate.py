"""What every HTTP request passes before its transaction, /graphql and /fhir alike: its
credentials, and its caller's allowance.

An address that keeps sending credentials that do not hold is refused before any lookup, so
it costs the database nothing (server/ratelimit.py, in this process); a caller that is known
takes one request from its bucket, shared by every API process (server/shared_ratelimit.py).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from wardgraph import errors
from wardgraph.auth.authenticate import authenticate
from wardgraph.context import RequestContext
from wardgraph.server.ratelimit import RateLimiter, address_key
from wardgraph.server.shared_ratelimit import SharedRateLimiter


async def admit(context: RequestContext, request: HTTPConnection, failed_auth: RateLimiter,
                limiter: SharedRateLimiter) -> None:
    """Authenticate the request into `context`, or raise RateLimited."""
    authorization = request.headers.get("authorization")
    if authorization:
        address = address_key(request.client)
        failed_auth.require_one(address)
        await authenticate(context, authorization)
        if context.auth_failure is not None and (
                context.auth_failure.code == errors.UNAUTHENTICATED):
            failed_auth.check(address)
    if context.claims is not None:
        await limiter.check(context.claims)
