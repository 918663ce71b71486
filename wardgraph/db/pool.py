"""The asyncpg pool of the API's login role (wg_api)."""

from __future__ import annotations

from typing import Any

import asyncpg

from wardgraph.config import Settings


class CountingConnection(asyncpg.Connection):  # type: ignore[misc]
    """A connection that counts what it sends: each call is one message to Postgres (a
    statement, or a transaction's BEGIN, SAVEPOINT or COMMIT). A request reads the count before
    and after, so its figure holds every statement of its transaction, whoever sent it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.statements_sent = 0

    def count_more(self, statements: int) -> None:
        self.statements_sent += statements

    async def execute(self, query: str, *args: Any, **kwargs: Any) -> str:
        self.statements_sent += 1
        status: str = await super().execute(query, *args, **kwargs)
        return status

    async def executemany(self, command: str, args: Any, **kwargs: Any) -> None:
        self.statements_sent += 1
        await super().executemany(command, args, **kwargs)

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> list[Any]:
        self.statements_sent += 1
        rows: list[Any] = await super().fetch(query, *args, **kwargs)
        return rows

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self.statements_sent += 1
        return await super().fetchrow(query, *args, **kwargs)

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self.statements_sent += 1
        return await super().fetchval(query, *args, **kwargs)


def count_statements(connection: Any, more: int) -> None:
    """Count the further statements of a script one call sent (BEGIN with the claims)."""
    count_more = getattr(connection, "count_more", None)  # through a pool's proxy too
    if count_more is not None:
        count_more(more)


def statements_sent(connection: Any) -> int:
    """What a connection of this pool has sent so far (0 for a connection from elsewhere)."""
    return int(getattr(connection, "statements_sent", 0))


async def keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to undo when a connection returns to the pool: role and claims are
    transaction-local (db/session.py), and nothing here LISTENs, locks or opens cursors. This
    saves asyncpg's default reset, a round trip (advisory unlock, CLOSE ALL, UNLISTEN, RESET
    ALL) on every request; an open transaction is still rolled back by the pool itself."""


async def create_pool(settings: Settings, database_url: str) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        database_url,
        min_size=settings.pool_min_size,
        max_size=settings.pool_max_size,
        # A connection never keeps session state between requests: claims are transaction-local.
        max_inactive_connection_lifetime=300,
        command_timeout=max(10.0, settings.limits.statement_timeout_ms / 1000 * 2),
        # 0 behind PgBouncer in transaction mode (before 1.21): see config.py.
        statement_cache_size=settings.statement_cache_size,
        connection_class=CountingConnection,
        reset=keep_session,
    )
    assert pool is not None
    return pool
