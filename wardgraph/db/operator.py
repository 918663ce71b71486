"""The operator's statements (CLI): run with the admin URL, and inside a tenant as wg_admin so
that the same policies hold as for the API."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from wardgraph.auth.claims import Claims, Role
from wardgraph.db.session import Session

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


async def fetch_facility_ids_by_code(
    session: Session, tenant_id: UUID, codes: list[str]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_FACILITY_IDS_BY_CODE, tenant_id, codes)


async def fetch_tenant_by_slug(
    connection: asyncpg.Connection, slug: str
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(FETCH_TENANT_BY_SLUG, slug)
    return row


# The operator's steps may seed a tenant whole (many statements): a minute, not a request's limit.
OPERATOR_STATEMENT_TIMEOUT_MS = 60_000


def tenant_admin(tenant_id: UUID) -> Claims:
    """The claims an operator's step runs with inside a tenant: its wg_admin, as over the API."""
    return Claims(tenant_id=tenant_id, role=Role.ADMIN)
