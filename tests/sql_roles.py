"""SQL as the roles see it: the API's login role, a role, and claims set as for a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg

from wardgraph.auth.claims import Claims, Role
from wardgraph.db.session import begin_with_claims


@asynccontextmanager
async def claimed(url: str, claims: Claims | None, role: Role | None = None,
                  request_id: str = "test") -> AsyncIterator[asyncpg.Connection]:
    """A transaction on a connection of `url` with a request's role and claims set as the API
    sets them, rolled back after. Claims None: `role` alone, with no claim (what a forgotten
    claim looks like). On a superuser's connection, becoming the role drops its rights."""
    connection = await asyncpg.connect(url)
    # asyncpg's own transaction, so that probes may nest savepoints in it.
    transaction = connection.transaction()
    await transaction.start()
    try:
        if claims is None:
            assert role is not None
            await connection.execute("select set_config('role', $1, true)", role.db_role)
        else:
            await begin_with_claims(connection, claims, request_id, 10_000)
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()


@asynccontextmanager
async def as_role(api_url: str, role: Role, tenant_id: UUID | None,
                  facility_ids: tuple[UUID, ...] = (), scopes: tuple[str, ...] = (),
                  user_id: UUID | None = None, partner_token_id: UUID | None = None,
                  ) -> AsyncIterator[asyncpg.Connection]:
    """`claimed` with the claims given one by one; tenant_id None sets the role alone."""
    claims = None if tenant_id is None else Claims(
        tenant_id=tenant_id, role=role, user_id=user_id, partner_token_id=partner_token_id,
        facility_ids=facility_ids, scopes=scopes)
    async with claimed(api_url, claims, role) as connection:
        yield connection
