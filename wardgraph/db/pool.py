"""The asyncpg pool of the API's login role (wg_api)."""

from __future__ import annotations

import asyncpg

from wardgraph.config import Settings


async def create_pool(settings: Settings, database_url: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        # A connection never keeps session state between requests: claims are transaction-local.
        max_inactive_connection_lifetime=300,
        command_timeout=max(10.0, settings.limits.statement_timeout_ms / 1000 * 2),
    )
    assert pool is not None
    return pool
