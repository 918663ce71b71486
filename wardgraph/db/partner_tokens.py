"""Statements for partner tokens. The token itself never reaches the database: only its hash."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

TOKEN_COLUMNS = "tenant_id, id, name, scopes, expires_at, revoked_at, created_by, created_at"

INSERT_PARTNER_TOKEN = f"""
insert into app.partner_tokens (tenant_id, name, token_hash, scopes, expires_at, created_by)
values ($1, $2, $3, $4::text[], $5, $6)
returning {TOKEN_COLUMNS}
"""

INSERT_PARTNER_TOKEN_FACILITIES = """
insert into app.partner_token_facilities (tenant_id, token_id, facility_id)
select $1, $2, unnest($3::uuid[])
"""

FETCH_PARTNER_TOKENS_BY_ID = f"""
select {TOKEN_COLUMNS} from app.partner_tokens where tenant_id = $1 and id = any($2::uuid[])
"""

FETCH_PARTNER_TOKEN_FACILITY_IDS = """
select token_id, facility_id from app.partner_token_facilities
where tenant_id = $1 and token_id = any($2::uuid[])
order by token_id, facility_id
"""

# Revoking twice keeps the first revocation time.
REVOKE_PARTNER_TOKEN = f"""
update app.partner_tokens set revoked_at = coalesce(revoked_at, $3)
where tenant_id = $1 and id = $2
returning {TOKEN_COLUMNS}
"""


async def insert_partner_token(
    session: Session, tenant_id: UUID, name: str, token_hash: bytes, scopes: list[str],
    facility_ids: list[UUID], expires_at: datetime, created_by: UUID | None,
) -> asyncpg.Record:
    row = await session.fetchrow(
        INSERT_PARTNER_TOKEN, tenant_id, name, token_hash, scopes, expires_at, created_by
    )
    assert row is not None
    await session.execute(INSERT_PARTNER_TOKEN_FACILITIES, tenant_id, row["id"], facility_ids)
    return row


async def fetch_partner_tokens_by_id(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_PARTNER_TOKENS_BY_ID, tenant_id, ids)


async def fetch_partner_token_facility_ids(
    session: Session, tenant_id: UUID, token_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_PARTNER_TOKEN_FACILITY_IDS, tenant_id, token_ids)


async def revoke_partner_token(
    session: Session, tenant_id: UUID, token_id: UUID, at: datetime
) -> asyncpg.Record | None:
    return await session.fetchrow(REVOKE_PARTNER_TOKEN, tenant_id, token_id, at)
