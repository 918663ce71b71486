"""The viewer and login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from wardgraph import errors
from wardgraph.auth.claims import Claims, Role
from wardgraph.auth.tokens import issue_user_token, verify_password
from wardgraph.context import RequestContext
from wardgraph.db import auth as auth_db
from wardgraph.db import organisation as db
from wardgraph.resolvers import organisation, partner_tokens


@dataclass(frozen=True)
class LoginGranted:
    """A signed-in user's bearer token and when it stops working."""

    token: str
    expires_at: datetime


def viewer(context: RequestContext) -> Claims:
    return context.authenticated()


async def viewer_tenant(context: RequestContext) -> asyncpg.Record:
    claims = context.authenticated()
    row = await db.fetch_tenant(await context.db(), claims.tenant_id)
    if row is None:
        raise errors.not_found()
    return row


async def viewer_user(context: RequestContext) -> asyncpg.Record | None:
    claims = context.authenticated()
    if claims.user_id is None:
        return None
    return await context.loaders.user.load(claims.user_id)


async def viewer_partner_token(context: RequestContext) -> asyncpg.Record | None:
    claims = context.authenticated()
    if claims.partner_token_id is None:
        return None
    return await partner_tokens.partner_token_of(context, claims.partner_token_id)


async def viewer_facilities(context: RequestContext) -> list[asyncpg.Record]:
    page = await organisation.facilities(context, context.settings.limits.max_page_size, None)
    return [row for _, row in page.items]


async def login(
    context: RequestContext, tenant: str, email: str, password: str
) -> LoginGranted:
    """A wrong password, an unknown e-mail and an unknown tenant answer alike, in about the
    same time: each costs one argon2 verification."""
    row = await auth_db.fetch_login(context.state.pool, tenant.strip().lower(), email.strip())
    if not verify_password(row["password_hash"] if row else None, password) or row is None:
        raise errors.unauthenticated("Wrong tenant, e-mail or password")
    ttl = timedelta(seconds=context.settings.login_token_ttl_seconds)
    claims = Claims(tenant_id=row["tenant_id"], role=Role(row["role"]), user_id=row["user_id"],
                    facility_ids=tuple(row["facility_ids"]))
    token = issue_user_token(context.settings, claims, context.now, ttl)
    return LoginGranted(token=token, expires_at=context.now + ttl)
