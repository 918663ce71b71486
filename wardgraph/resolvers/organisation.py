"""Facilities, wards, beds and users: reads and the ADMIN-only mutations that create them.
Resolvers hand back rows; the schema's types build themselves from them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from uuid import UUID

import asyncpg

from wardgraph import errors, ids
from wardgraph.auth.claims import Role
from wardgraph.auth.tokens import hash_password
from wardgraph.context import RequestContext
from wardgraph.db import organisation as db
from wardgraph.paging import Page, page_size

STAFF = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.AUDITOR, Role.PARTNER)


@dataclass(frozen=True)
class PricedWard:
    """A ward's row with its facility's currency: a ward's rate is shown in it."""

    row: asyncpg.Record
    currency: str


async def facility_of(context: RequestContext, facility_id: UUID) -> asyncpg.Record:
    row = await context.loaders.facility.load(facility_id)
    if row is None:
        raise errors.not_found()
    return row


async def facility(context: RequestContext, global_id: str) -> asyncpg.Record:
    context.require(*STAFF)
    return await facility_of(context, ids.decode(global_id, "Facility"))


async def facilities(
    context: RequestContext, first: int | None, after: str | None
) -> Page[asyncpg.Record]:
    claims = context.require(*STAFF)
    limit = page_size(first, 20, context.settings.limits.max_page_size)
    cursors = context.cursors("facilities")
    key = cursors.decode(after, 1)
    rows = await db.fetch_facilities_page(
        await context.db(), claims.tenant_id, key[0] if key else None, limit + 1
    )
    return Page.of([([r["code"]], r) for r in rows], limit, cursors)


async def ward_of(context: RequestContext, ward_id: UUID) -> PricedWard:
    row = await context.loaders.ward.load(ward_id)
    if row is None:
        raise errors.not_found()
    facility_row = await context.loaders.facility.load(row["facility_id"])
    if facility_row is None:
        raise errors.not_found()
    return PricedWard(row, facility_row["currency"])


async def ward(context: RequestContext, global_id: str) -> PricedWard:
    context.require(*STAFF)
    return await ward_of(context, ids.decode(global_id, "Ward"))


async def facility_wards(context: RequestContext, facility_id: UUID) -> list[PricedWard]:
    rows = await context.loaders.wards_by_facility.load(facility_id)
    facility_row = await context.loaders.facility.load(facility_id)
    currency = facility_row["currency"] if facility_row else "USD"
    return [PricedWard(r, currency) for r in rows]


async def bed_of(context: RequestContext, bed_id: UUID) -> asyncpg.Record:
    row = await context.loaders.bed.load(bed_id)
    if row is None:
        raise errors.not_found()
    return row


async def ward_beds(context: RequestContext, ward_id: UUID) -> list[asyncpg.Record]:
    return await context.loaders.beds_by_ward.load(ward_id)


async def user_facilities(context: RequestContext, user_id: UUID) -> list[asyncpg.Record]:
    user = await context.loaders.user.load(user_id)
    # An administrator works in every facility; every other role, auditors included, in the
    # facilities it belongs to (policies/facilities.sql).
    if user is not None and user["role"] == "ADMIN":
        page = await facilities(context, context.settings.limits.max_page_size, None)
        return [row for _, row in page.items]
    rows = await context.loaders.user_facilities.load(user_id)
    found = await context.loaders.facility.load_many([r["facility_id"] for r in rows])
    return [r for r in found if r is not None]


async def create_facility(
    context: RequestContext, code: str, name: str, timezone: str, currency: str | None
) -> asyncpg.Record:
    claims = context.require(Role.ADMIN)
    row = await db.insert_facility(
        await context.db(), claims.tenant_id, code.strip(), name.strip(), timezone.strip(),
        (currency or "USD").strip().upper(),
    )
    context.audit_write("CREATE", "Facility", row["id"])
    return row


def parse_money(text: str, field: str) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise errors.invalid(field, "Not a decimal amount, e.g. \"125.00\"") from error
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise errors.invalid(field, "An amount is a non-negative decimal with at most 2 places")
    if amount >= Decimal("10000000000"):
        raise errors.invalid(field, "The amount is too large")
    return amount


async def create_ward(
    context: RequestContext, facility_id: str, name: str, daily_rate: str
) -> PricedWard:
    claims = context.require(Role.ADMIN)
    rate = parse_money(daily_rate, "dailyRate")
    facility_row = await context.loaders.facility.load(ids.decode(facility_id, "Facility"))
    if facility_row is None:
        raise errors.not_found()
    row = await db.insert_ward(
        await context.db(), claims.tenant_id, facility_row["id"], name.strip(), rate
    )
    context.audit_write("CREATE", "Ward", row["id"])
    return PricedWard(row, facility_row["currency"])


async def create_bed(context: RequestContext, ward_id: str, label: str) -> asyncpg.Record:
    claims = context.require(Role.ADMIN)
    ward_row = await context.loaders.ward.load(ids.decode(ward_id, "Ward"))
    if ward_row is None:
        raise errors.not_found()
    row = await db.insert_bed(
        await context.db(), claims.tenant_id, ward_row["facility_id"], ward_row["id"],
        label.strip(),
    )
    context.audit_write("CREATE", "Bed", row["id"])
    return row


MIN_PASSWORD_LENGTH = 12


async def create_user(
    context: RequestContext, email: str, display_name: str | None, role: Role,
    facility_ids: list[str], password: str | None,
) -> asyncpg.Record:
    claims = context.require(Role.ADMIN)
    if role is Role.PARTNER:
        raise errors.invalid("role", "Partners use partner tokens, not user accounts")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise errors.invalid("password", f"A password has at least {MIN_PASSWORD_LENGTH} "
                             "characters")
    facility_uuids = [ids.decode(f, "Facility") for f in facility_ids]
    found = await context.loaders.facility.load_many(facility_uuids)
    if any(f is None for f in found):
        raise errors.not_found()
    row = await db.insert_user(
        await context.db(), claims.tenant_id, email.strip(), (display_name or "").strip(),
        role.value, hash_password(password) if password else None, facility_uuids,
    )
    context.audit_write("CREATE", "User", row["id"])
    return row
