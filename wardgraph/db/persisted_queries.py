"""Statements for persisted queries (policies/persisted_queries.sql holds the rules).

The API's login role reaches platform.persisted_queries only through the two auth functions;
the operator's allow-listing runs as the migration role.
"""

from __future__ import annotations

import asyncpg

FETCH_PERSISTED_QUERY = "select query, allow_listed from auth.persisted_query($1)"

REGISTER_PERSISTED_QUERY = "select auth.register_persisted_query($1, $2)"

# The operator's `wardgraph operations add`: registers, or allow-lists a query a client
# registered first. The text stays as it was: the hash names exactly one text.
UPSERT_ALLOW_LISTED = """
insert into platform.persisted_queries (sha256, query, allow_listed)
values ($1, $2, true)
on conflict (sha256) do update set allow_listed = true
returning sha256
"""


async def fetch_persisted_query(
    pool: asyncpg.Pool, query_hash: str, acquire_timeout: float
) -> asyncpg.Record | None:
    async with pool.acquire(timeout=acquire_timeout) as connection:
        row: asyncpg.Record | None = await connection.fetchrow(FETCH_PERSISTED_QUERY, query_hash)
        return row


async def register_persisted_query(
    pool: asyncpg.Pool, query_hash: str, query: str, acquire_timeout: float
) -> None:
    async with pool.acquire(timeout=acquire_timeout) as connection:
        await connection.execute(REGISTER_PERSISTED_QUERY, query_hash, query)


async def upsert_allow_listed(connection: asyncpg.Connection, query_hash: str, query: str) -> str:
    value: str = await connection.fetchval(UPSERT_ALLOW_LISTED, query_hash, query)
    return value
