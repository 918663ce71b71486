"""The rate limit's shared token buckets (policies/rate_limits.sql holds the rules).

One statement per request, outside the request's transaction: the API's login role takes a
request from the caller's bucket through auth.take_request(), so every API process counts
against the same bucket.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

TAKE_REQUEST = "select auth.take_request($1, $2, $3)"


async def take_request(pool: asyncpg.Pool, tenant_id: UUID, caller: str, per_minute: int,
                       acquire_timeout: float) -> int:
    """Seconds the caller must wait before its next request; 0 when this one may go."""
    async with pool.acquire(timeout=acquire_timeout) as connection:
        wait: int = await connection.fetchval(TAKE_REQUEST, tenant_id, caller, per_minute)
        return wait
