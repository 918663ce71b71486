"""The viewer and login."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from wardgraph import errors
from wardgraph.auth.claims import Claims, Role
from wardgraph.auth.tokens import issue_user_token, verify_password
from wardgraph.context import RequestContext
from wardgraph.db import auth as auth_db
from wardgraph.db import organisation as db
from wardgraph.schema import enums
from wardgraph.schema import organisation as types
from wardgraph.schema import viewer as viewer_types

if TYPE_CHECKING:
    from wardgraph.schema.partner_tokens import PartnerToken


def viewer(context: RequestContext) -> viewer_types.Viewer:
    claims = context.authenticated()
    return viewer_types.Viewer(
        kind=enums.ViewerKind.PARTNER if claims.is_partner else enums.ViewerKind.USER,
        role=enums.Role(claims.role.value),
        scopes=list(claims.scopes),
        name=claims.partner_name,
        expires_at=claims.expires_at,
    )


async def viewer_tenant(context: RequestContext) -> types.Tenant:
    claims = context.authenticated()
    row = await db.fetch_tenant(await context.db(), claims.tenant_id)
    if row is None:
        raise errors.not_found()
    return types.Tenant.from_row(row)


async def viewer_user(context: RequestContext) -> types.User | None:
    claims = context.authenticated()
    if claims.user_id is None:
        return None
    row = await context.loaders.user.load(claims.user_id)
    return types.User.from_row(row) if row else None


async def viewer_partner_token(context: RequestContext) -> PartnerToken | None:
    from wardgraph.resolvers.partner_tokens import partner_token_of

    claims = context.authenticated()
    if claims.partner_token_id is None:
        return None
    return await partner_token_of(context, claims.partner_token_id)


async def viewer_facilities(context: RequestContext) -> list[types.Facility]:
    from wardgraph.resolvers.organisation import facilities

    page = await facilities(context, context.settings.limits.max_page_size, None)
    return [edge.node for edge in page.edges]


async def login(
    context: RequestContext, tenant: str, email: str, password: str
) -> viewer_types.LoginPayload:
    """A wrong password, an unknown e-mail and an unknown tenant answer alike, in about the
    same time: each costs one argon2 verification."""
    row = await auth_db.fetch_login(context.state.pool, tenant.strip().lower(), email.strip())
    if not verify_password(row["password_hash"] if row else None, password) or row is None:
        raise errors.unauthenticated("Wrong tenant, e-mail or password")
    ttl = timedelta(seconds=context.settings.login_token_ttl_seconds)
    claims = Claims(tenant_id=row["tenant_id"], role=Role(row["role"]), user_id=row["user_id"],
                    facility_ids=tuple(row["facility_ids"]))
    token = issue_user_token(context.settings, claims, context.now, ttl)
    return viewer_types.LoginPayload(token=token, expires_at=context.now + ttl)
