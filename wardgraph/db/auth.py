"""The two statements the login role runs before it knows a tenant (see policies/auth.sql)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

LOGIN_LOOKUP = """
select tenant_id, user_id, role::text as role, password_hash, facility_ids
from auth.login_lookup($1, $2)
"""

PARTNER_TOKEN_CLAIMS = """
select tenant_id, token_id, name, scopes, facility_ids, expires_at
from auth.partner_token_claims($1, $2)
"""


async def fetch_login(pool: asyncpg.Pool, tenant_slug: str, email: str) -> asyncpg.Record | None:
    async with pool.acquire() as connection:
        row: asyncpg.Record | None = await connection.fetchrow(LOGIN_LOOKUP, tenant_slug, email)
        return row


async def fetch_partner_token_claims(
    pool: asyncpg.Pool, token_hash: bytes, at: datetime, acquire_timeout: float
) -> asyncpg.Record | None:
    async with pool.acquire(timeout=acquire_timeout) as connection:
        row: asyncpg.Record | None = await connection.fetchrow(
            PARTNER_TOKEN_CLAIMS, token_hash, at
        )
        return row
