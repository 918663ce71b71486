"""The operator's statements (CLI): run with the admin URL, and inside a tenant as wg_admin so
that the same policies hold as for the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg

from wardgraph.auth.claims import Claims, Role
from wardgraph.db.session import SET_CLAIMS, Session, claim_values

INSERT_TENANT = """
insert into platform.tenants (slug, name) values ($1, $2)
returning tenant_id, slug, name
"""

FETCH_TENANT_BY_SLUG = "select tenant_id, slug, name from platform.tenants where slug = $1"

FETCH_FACILITY_IDS_BY_CODE = """
select code, id from app.facilities where tenant_id = $1 and code = any($2::text[])
"""


async def insert_tenant(connection: asyncpg.Connection, slug: str, name: str) -> asyncpg.Record:
    row: asyncpg.Record = await connection.fetchrow(INSERT_TENANT, slug, name)
    return row


async def fetch_tenant_by_slug(
    connection: asyncpg.Connection, slug: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(FETCH_TENANT_BY_SLUG, slug)
    return row


@asynccontextmanager
async def as_tenant_admin(
    connection: asyncpg.Connection, tenant_id: UUID, request_id: str = "cli"
) -> AsyncIterator[Session]:
    """A transaction as the tenant's wg_admin, claims set as for an API request."""
    async with connection.transaction():
        claims = Claims(tenant_id=tenant_id, role=Role.ADMIN)
        await connection.execute(SET_CLAIMS, *claim_values(claims, request_id, 60_000))
        yield Session(connection)
