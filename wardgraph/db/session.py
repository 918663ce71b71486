"""One request, one transaction: set the role and claims, then run the resolvers' statements.

Claims are set with set_config(..., true) in a single statement, so they are transaction-local
(SET LOCAL ROLE cannot take a bind parameter; set_config('role', ...) does the same). When the
transaction ends they are gone, so a pooled connection never carries one request's identity into
the next, PgBouncer in transaction mode included. Keep "set the claims" in this one place.

BEGIN and the claims travel in one round trip when they can: a round trip costs more than the
statement on a busy server, and every request pays it. A simple-query message carrying both
needs the values written into the SQL, so they are written only when each is made of
characters that cannot end or escape a literal (SAFE_LITERAL: uuids, role and scope names, the
request id, a number); anything else is bound as a parameter in a second round trip.

Under Citus the claims must reach the workers too: Citus propagates SET LOCAL of custom
settings (with citus.propagate_set_commands = 'local') but not set_config(..., true). The
`set_local` claims mode (WARDGRAPH_CLAIMS_MODE) writes the same claims as SET LOCAL commands,
every value an escaped literal (SET takes no parameters); it is just as transaction-local.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from wardgraph.auth.claims import Claims, pg_array
from wardgraph.db.pool import count_statements

SET_CLAIMS = """
select set_config('role', $1, true),
       set_config('wg.role', $2, true),
       set_config('wg.tenant_id', $3, true),
       set_config('wg.user_id', $4, true),
       set_config('wg.partner_token_id', $5, true),
       set_config('wg.facility_ids', $6, true),
       set_config('wg.scopes', $7, true),
       set_config('wg.request_id', $8, true),
       set_config('statement_timeout', $9, true)
"""


def claim_values(claims: Claims, request_id: str, statement_timeout_ms: int) -> tuple[str, ...]:
    return (
        claims.role.db_role,
        claims.role.value,
        str(claims.tenant_id),
        str(claims.user_id or ""),
        str(claims.partner_token_id or ""),
        pg_array(claims.facility_ids),
        pg_array(claims.scopes),
        request_id,
        str(statement_timeout_ms),
    )


# Values written into SQL as '...' must match this: no quote, no backslash, nothing else.
SAFE_LITERAL = re.compile(r"[A-Za-z0-9_:.,{}+\-]*\Z")
PARAMETER = re.compile(r"\$(\d+)")

# The settings SET_CLAIMS sets, in the order of claim_values(); `role` is SET LOCAL ROLE.
CLAIM_SETTINGS = ("role", "wg.role", "wg.tenant_id", "wg.user_id", "wg.partner_token_id",
                  "wg.facility_ids", "wg.scopes", "wg.request_id", "statement_timeout")
SET_CONFIG, SET_LOCAL = "set_config", "set_local"


def inline(sql: str, values: tuple[str, ...]) -> str | None:
    """The statement with $n replaced by its value as a literal, or None when a value is not
    provably safe to write there."""
    if not all(SAFE_LITERAL.match(value) for value in values):
        return None
    return PARAMETER.sub(lambda m: "'" + values[int(m.group(1)) - 1] + "'", sql)


def escaped_literal(value: str) -> str:
    """An E'' string literal: its meaning does not depend on standard_conforming_strings."""
    if "\0" in value:
        raise ValueError("a claim cannot hold a NUL character")
    return "E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def set_local_script(values: tuple[str, ...]) -> str:
    """The claims as SET LOCAL commands (what Citus propagates to its workers)."""
    commands = [f"set local role {escaped_literal(values[0])}"]
    commands += [f"set local {name} = {escaped_literal(value)}"
                 for name, value in zip(CLAIM_SETTINGS[1:], values[1:], strict=True)]
    return ";".join(commands)


async def begin_with_claims(connection: asyncpg.Connection, claims: Claims, request_id: str,
                            statement_timeout_ms: int, mode: str = SET_CONFIG) -> Session:
    """The one way a transaction gets a role and claims: BEGIN, then the role and claims, in one
    round trip when the values allow (see above). On a connection already inside a transaction
    (an operator's step that must land whole), the claims are set for the rest of that one."""
    values = claim_values(claims, request_id, statement_timeout_ms)
    if mode == SET_LOCAL:
        commands = set_local_script(values)
        if connection.is_in_transaction():
            await connection.execute(commands)
        else:
            await connection.execute("begin;" + commands)
            count_statements(connection, 1)  # counted like BEGIN and SET_CLAIMS
        return Session(connection)
    if connection.is_in_transaction():
        await connection.execute(SET_CLAIMS, *values)
        return Session(connection)
    script = inline(SET_CLAIMS, values)
    if script is not None:
        await connection.execute("begin;" + script)
        count_statements(connection, 1)  # the script holds two statements
    else:
        await connection.execute("begin")
        await connection.execute(SET_CLAIMS, *values)
    return Session(connection)


class Session:
    """The request's connection. Resolvers run concurrently; statements on one connection
    cannot, so each statement takes the lock. (The pool's connections count what they send:
    db/pool.py.)"""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection
        self._lock = asyncio.Lock()
        self._savepoints = itertools.count(1)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self._lock:
            result: list[asyncpg.Record] = await self.connection.fetch(sql, *args)
            return result

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self._lock:
            result: asyncpg.Record | None = await self.connection.fetchrow(sql, *args)
            return result

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self._lock:
            return await self.connection.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        async with self._lock:
            result: str = await self.connection.execute(sql, *args)
            return result

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: an error inside undoes only what was inside. (Plain SQL: the
        request's transaction is begun by a script, which asyncpg's transaction API refuses to
        nest in.)"""
        name = f"wg_savepoint_{next(self._savepoints)}"
        async with self._lock:
            await self.connection.execute(f"savepoint {name}")
        try:
            yield
        except BaseException:
            async with self._lock:
                await self.connection.execute(f"rollback to savepoint {name}")
            raise
        else:
            async with self._lock:
                await self.connection.execute(f"release savepoint {name}")


@asynccontextmanager
async def claimed_transaction(connection: asyncpg.Connection, claims: Claims, request_id: str,
                              statement_timeout_ms: int,
                              mode: str = SET_CONFIG) -> AsyncIterator[Session]:
    """begin_with_claims as a block: committed at its end, rolled back if it raises. Inside a
    transaction already begun, that transaction's owner ends it."""
    nested = connection.is_in_transaction()
    session = await begin_with_claims(connection, claims, request_id, statement_timeout_ms, mode)
    if nested:
        yield session
        return
    try:
        yield session
    except BaseException:
        if not connection.is_closed():
            try:
                await connection.execute("rollback")
            except (asyncpg.InterfaceError, asyncpg.PostgresError):
                pass
        raise
    await connection.execute("commit")
