"""Partner tokens: ADMIN creates and revokes them; a partner sees its own through `viewer`."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from wardgraph import errors
from wardgraph.auth import new_partner_token
from wardgraph.claims import PARTNER_SCOPES, Role
from wardgraph.context import RequestContext
from wardgraph.db import partner_tokens as db
from wardgraph.schema import ids
from wardgraph.schema import organisation as org_types
from wardgraph.schema import partner_tokens as types

MAX_LIFETIME = timedelta(days=366)


def _validated_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(PARTNER_SCOPES))
    if unknown:
        raise errors.invalid("scopes", f"Unknown scope: {', '.join(unknown)}")
    if not scopes:
        raise errors.invalid("scopes", "Give at least one scope")
    return sorted(set(scopes))


def _validated_expiry(context: RequestContext, expires_at: datetime) -> datetime:
    if expires_at.tzinfo is None:
        raise errors.invalid("expiresAt", "Give the expiry with its offset, e.g. ...Z")
    if expires_at <= context.now:
        raise errors.invalid("expiresAt", "The expiry must be in the future")
    if expires_at > context.now + MAX_LIFETIME:
        raise errors.invalid("expiresAt", "A partner token lives at most a year")
    return expires_at


async def create_partner_token(
    context: RequestContext, name: str, scopes: list[str], facility_ids: list[str],
    expires_at: datetime,
) -> types.CreatePartnerTokenPayload:
    claims = context.require(Role.ADMIN)
    valid_scopes = _validated_scopes(scopes)
    expiry = _validated_expiry(context, expires_at)
    if not facility_ids:
        raise errors.invalid("facilityIds", "Give at least one facility")
    facilities = [ids.decode(f, "Facility") for f in facility_ids]
    if any(f is None for f in await context.loaders.facility.load_many(facilities)):
        raise errors.not_found()
    token, token_hash = new_partner_token()
    row = await db.insert_partner_token(
        await context.db(), claims.tenant_id, name.strip(), token_hash, valid_scopes,
        sorted(set(facilities)), expiry, claims.user_id,
    )
    context.audit_write("CREATE", "PartnerToken", row["id"])
    return types.CreatePartnerTokenPayload(token=token,
                                           partner_token=types.PartnerToken.from_row(row))


async def revoke_partner_token(context: RequestContext, global_id: str) -> types.PartnerToken:
    claims = context.require(Role.ADMIN)
    row = await db.revoke_partner_token(
        await context.db(), claims.tenant_id, ids.decode(global_id, "PartnerToken"), context.now
    )
    if row is None:
        raise errors.not_found()
    context.audit_write("UPDATE", "PartnerToken", row["id"])
    return types.PartnerToken.from_row(row)


async def partner_token_of(context: RequestContext, token_id: UUID) -> types.PartnerToken:
    context.require(Role.ADMIN, Role.PARTNER)
    row = await context.loaders.partner_token.load(token_id)
    if row is None:
        raise errors.not_found()
    return types.PartnerToken.from_row(row)


async def token_facilities(context: RequestContext, token_id: UUID) -> list[org_types.Facility]:
    rows = await context.loaders.partner_token_facilities.load(token_id)
    found = await context.loaders.facility.load_many([r["facility_id"] for r in rows])
    return [org_types.Facility.from_row(r) for r in found if r is not None]


def one_id(given_id: str | None, input_id: str | None) -> str:
    """Accepts the id as `id:` (the DESIGN sketch) or as `input: {id}` (the input convention)."""
    if (given_id is None) == (input_id is None):
        raise errors.invalid("id", "Give the token's id once: as `id` or as `input.id`")
    # Not `given_id or input_id`: an empty id given as `id` is still the one given.
    return given_id if given_id is not None else input_id  # type: ignore[return-value]
