"""Bed-day billing: accrueBedDays. The rule and the writing are in SQL (policies/bed_days.sql);
this checks who asks and what they gave, and makes one call."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from wardgraph import errors
from wardgraph.auth.claims import Role
from wardgraph.context import RequestContext
from wardgraph.db import billing as db
from wardgraph.resolvers import organisation
from wardgraph.schema import billing as types
from wardgraph.schema import ids
from wardgraph.schema.money import Money
from wardgraph.schema.organisation import Facility

ACCRUERS = (Role.ADMIN, Role.BILLING)


async def accrue_bed_days(
    context: RequestContext, facility_id: str, through: date
) -> types.AccrualResult:
    context.require(*ACCRUERS)
    facility_uuid = ids.decode_input(facility_id, "Facility", "facilityId")
    if await context.loaders.facility.load(facility_uuid) is None:
        raise errors.not_found()
    row = await db.accrue_bed_days(await context.db(), facility_uuid, through, context.now)
    context.audit_write("CREATE", "BedDays", facility_uuid)
    return types.AccrualResult(
        facility_id=facility_uuid, through=through, charges_created=row["charges_created"],
        amount=Money.of(row["amount"], row["currency"]), bed_days=row["bed_days"])


async def facility_of(context: RequestContext, facility_id: UUID) -> Facility:
    return await organisation.facility_of(context, facility_id)
