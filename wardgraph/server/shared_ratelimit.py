"""Rate limits per user and per partner token, counted in PostgreSQL for every API process.

The token bucket of server/ratelimit.py, kept in the database (an unlogged table, one upsert
per request: db/rate_limits.py), so that `serve --workers N`, or N replicas behind a load
balancer, allow each caller the configured rate in total rather than N times it. The price is
one short statement per authenticated request, before its transaction.

When the database cannot be asked, the request goes on: it needs the database itself, and
its own transaction answers SERVICE_UNAVAILABLE; a limiter that refused everyone while the
database recovers would only add to the outage.
"""

from __future__ import annotations

import logging

import asyncpg

from wardgraph.auth.claims import Claims
from wardgraph.db.errors import UNAVAILABLE
from wardgraph.db.rate_limits import take_request
from wardgraph.server.ratelimit import RateLimited

log = logging.getLogger("wardgraph.ratelimit")


def bucket_name(claims: Claims) -> str:
    """The bucket's key in SQL, as server/ratelimit.caller_key keys them: users by user id,
    partners by token id (each partner token has its own allowance)."""
    if claims.is_partner:
        return f"partner:{claims.partner_token_id}"
    return f"user:{claims.user_id}"


class SharedRateLimiter:
    def __init__(self, pool: asyncpg.Pool, per_minute: int, acquire_timeout: float) -> None:
        self.pool = pool
        self.per_minute = per_minute
        self.acquire_timeout = acquire_timeout

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def check(self, claims: Claims) -> None:
        """Take one request from the caller's bucket, or raise RateLimited."""
        if not self.enabled:
            return
        try:
            wait = await take_request(self.pool, claims.tenant_id, bucket_name(claims),
                                      self.per_minute, self.acquire_timeout)
        except (asyncpg.PostgresError, *UNAVAILABLE):
            log.warning("rate limit not checked: the database did not answer", exc_info=True)
            return
        if wait > 0:
            raise RateLimited(wait)
