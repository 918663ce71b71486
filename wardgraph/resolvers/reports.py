"""The daily report. Every count is made in SQL by app.daily_report() (policies/reports.sql);
this checks who asks and the range, and makes one call."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from wardgraph import errors
from wardgraph.auth.claims import Role
from wardgraph.context import RequestContext
from wardgraph.db import reports as db
from wardgraph.schema import ids
from wardgraph.schema import reports as types
from wardgraph.schema.money import Money

READERS = (Role.ADMIN, Role.BILLING, Role.CLINICIAN, Role.PARTNER)
SCOPE = "reports:read"
MONEY_READERS = (Role.ADMIN, Role.BILLING, Role.PARTNER)
MONEY_SCOPE = "billing:read"
MAX_DATES = 366


async def daily_report(
    context: RequestContext, facility_id: str, first_day: date, last_day: date
) -> list[types.DailyReportRow]:
    context.require(*READERS, scope=SCOPE)
    if last_day < first_day:
        raise errors.invalid("to", "`to` comes before `from`")
    if (last_day - first_day).days >= MAX_DATES:
        raise errors.invalid("to", f"A report covers at most {MAX_DATES} dates")
    facility_uuid = ids.decode(facility_id, "Facility")
    if await context.loaders.facility.load(facility_uuid) is None:
        raise errors.not_found()
    rows = await db.fetch_daily_report(await context.db(), facility_uuid, first_day, last_day,
                                       context.now)
    return [types.DailyReportRow(
        date=r["service_date"], census=r["census"], admissions=r["admissions"],
        discharges=r["discharges"], transfers=r["transfers"], bed_days=r["bed_days"],
        observations=r["observations"], escalations=r["escalations"],
        revenue_amount=r["revenue"], currency=r["currency"]) for r in rows]


def revenue(context: RequestContext, amount: Decimal | None, currency: str) -> Money | None:
    """Money is for ADMIN, BILLING and partners holding billing:read: FORBIDDEN on the field
    for everyone else (the database has already withheld the amount from them)."""
    context.require(*MONEY_READERS, scope=MONEY_SCOPE)
    return Money.of(amount, currency) if amount is not None else None
