"""Turning an Authorization header into claims: a user JWT or a partner token."""

from __future__ import annotations

import asyncpg

from wardgraph import errors
from wardgraph.auth.claims import Claims, Role
from wardgraph.auth.tokens import AuthError, decode_user_token, is_partner_token, partner_token_hash
from wardgraph.context import RequestContext
from wardgraph.db.auth import fetch_partner_token_claims
from wardgraph.db.errors import UNAVAILABLE


async def partner_claims(context: RequestContext, token: str) -> Claims:
    """A partner token's claims, checked in SQL on every request (no cache)."""
    row = await fetch_partner_token_claims(
        context.state.pool, partner_token_hash(token), context.now,
        context.settings.pool_timeout_seconds,
    )
    if row is None:
        raise AuthError("unknown, expired or revoked partner token")
    return Claims(
        tenant_id=row["tenant_id"], role=Role.PARTNER, partner_token_id=row["token_id"],
        facility_ids=tuple(row["facility_ids"]), scopes=tuple(row["scopes"]),
        partner_name=row["name"], expires_at=row["expires_at"],
    )


async def claims_for_token(context: RequestContext, token: str) -> Claims:
    if is_partner_token(token):
        return await partner_claims(context, token)
    return decode_user_token(context.settings, token, context.now)


async def authenticate(context: RequestContext, authorization: str | None) -> None:
    """Set context.claims, or context.auth_failure for a credential that does not hold."""
    if not authorization:
        return
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        context.auth_failure = errors.unauthenticated("Use 'Authorization: Bearer <token>'")
        return
    try:
        context.claims = await claims_for_token(context, token.strip())
    except AuthError:
        context.auth_failure = errors.unauthenticated("Invalid, expired or revoked token")
    except (asyncpg.PostgresError, *UNAVAILABLE):
        context.auth_failure = errors.unavailable()
