"""SQL as the roles see it: the API's login role, a role, and claims set as for a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg

from wardgraph.claims import Claims, Role
from wardgraph.db.session import SET_CLAIMS, claim_values


@asynccontextmanager
async def as_role(api_url: str, role: Role, tenant_id: UUID | None,
                  facility_ids: tuple[UUID, ...] = (), scopes: tuple[str, ...] = (),
                  user_id: UUID | None = None) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on a wg_api connection as `role` with these claims, rolled back after.

    tenant_id None sets the role with an empty tenant claim (what a forgotten claim looks like).
    """
    connection = await asyncpg.connect(api_url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        if tenant_id is None:
            await connection.execute("select set_config('role', $1, true)", role.db_role)
        else:
            claims = Claims(tenant_id=tenant_id, role=role, user_id=user_id,
                            facility_ids=facility_ids, scopes=scopes)
            await connection.execute(SET_CLAIMS, *claim_values(claims, "test", 10_000))
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()
