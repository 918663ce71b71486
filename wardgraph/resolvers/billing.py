"""Bed-day billing: accrueBedDays. The rule and the writing are in SQL (policies/bed_days.sql);
this checks who asks and what they gave, and makes one call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

from wardgraph import errors, ids
from wardgraph.auth.claims import Role
from wardgraph.context import RequestContext
from wardgraph.db import billing as db

ACCRUERS = (Role.ADMIN, Role.BILLING)


@dataclass(frozen=True)
class Accrual:
    """What one accrual run did."""

    facility_id: UUID
    through: date
    charges_created: int
    amount: Decimal
    currency: str
    bed_days: int


async def accrue_bed_days(
    context: RequestContext, facility_id: str, through: date
) -> Accrual:
    context.require(*ACCRUERS)
    facility_uuid = ids.decode_input(facility_id, "Facility", "facilityId")
    if await context.loaders.facility.load(facility_uuid) is None:
        raise errors.not_found()
    row = await db.accrue_bed_days(await context.db(), facility_uuid, through, context.now)
    context.audit_write("CREATE", "BedDays", facility_uuid)
    return Accrual(
        facility_id=facility_uuid, through=through, charges_created=row["charges_created"],
        amount=row["amount"], currency=row["currency"], bed_days=row["bed_days"])
