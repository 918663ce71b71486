"""The daily report. Every count is made in SQL by app.daily_report() (policies/reports.sql);
this checks who asks and the range, and makes one call."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import asyncpg

from wardgraph import errors, ids
from wardgraph.auth.claims import Role
from wardgraph.context import RequestContext
from wardgraph.db import reports as db

READERS = (Role.ADMIN, Role.BILLING, Role.CLINICIAN, Role.PARTNER)
SCOPE = "reports:read"
MONEY_READERS = (Role.ADMIN, Role.BILLING, Role.PARTNER)
MONEY_SCOPE = "billing:read"
MAX_DATES = 366


async def daily_report(
    context: RequestContext, facility_id: str, first_day: date, last_day: date
) -> list[asyncpg.Record]:
    context.require(*READERS, scope=SCOPE)
    if last_day < first_day:
        raise errors.invalid("to", "`to` comes before `from`")
    if (last_day - first_day).days >= MAX_DATES:
        raise errors.invalid("to", f"A report covers at most {MAX_DATES} dates")
    facility_uuid = ids.decode(facility_id, "Facility")
    if await context.loaders.facility.load(facility_uuid) is None:
        raise errors.not_found()
    return await db.fetch_daily_report(await context.db(), facility_uuid, first_day, last_day,
                                       context.now)


def revenue(context: RequestContext, amount: Decimal | None) -> Decimal | None:
    """Money is for ADMIN, BILLING and partners holding billing:read: FORBIDDEN on the field
    for everyone else (the database has already withheld the amount from them)."""
    context.require(*MONEY_READERS, scope=MONEY_SCOPE)
    return amount
