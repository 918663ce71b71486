"""The daily report: one row per facility-local date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import asyncpg
import strawberry

from wardgraph.context import RequestContext
from wardgraph.resolvers import reports as resolve
from wardgraph.schema.money import Money

Info = strawberry.Info[RequestContext, None]


@strawberry.type(description="One facility-local date of a facility: from its local midnight "
                 "to the next, 23 or 25 hours on the days clocks change. Every date asked for "
                 "has a row, in date order, even a date the zone skipped altogether (Pacific/"
                 "Apia's 2011-12-30): that row has census null (the date had no midnight of its "
                 "own; the one that night ended the date before) and every count 0.")
class DailyReportRow:
    date: dt.date = strawberry.field(description="The local date, in the facility's zone.")
    census: int | None = strawberry.field(
        description="Occupied beds at the midnight census that ends the date (local 00:00 of "
        "the next date): stays with started_at < midnight <= ended_at. Null while that "
        "midnight is still to come, and for a date the zone skipped.")
    admissions: int = strawberry.field(description="Admissions during the date.")
    discharges: int = strawberry.field(description="Discharges during the date.")
    transfers: int = strawberry.field(description="Transfers to another bed during the date.")
    bed_days: int = strawberry.field(description="Net bed-days charged for this date in the "
                                     "ledger: charges (one per stay at the census that ends the "
                                     "date, from accruals and discharges) minus the reversals "
                                     "of back-dated discharges and transfers. Never more than "
                                     "census.")
    observations: int = strawberry.field(description="Observations (vital signs) recorded "
                                         "during the date.")
    escalations: int = strawberry.field(description="NEWS2 escalations raised during the date.")
    revenue_amount: strawberry.Private[Decimal | None]
    currency: strawberry.Private[str]

    @strawberry.field(description="The net total of the bed-day charges of the date (charges "
                      "minus reversals), in the facility's currency. ADMIN, BILLING "
                      "and partners holding billing:read; others get null with FORBIDDEN on "
                      "this field.")
    def revenue(self, info: Info) -> Money | None:
        amount = resolve.revenue(info.context, self.revenue_amount)
        return Money.of(amount, self.currency) if amount is not None else None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> DailyReportRow:
        return cls(date=row["service_date"], census=row["census"], admissions=row["admissions"],
                   discharges=row["discharges"], transfers=row["transfers"],
                   bed_days=row["bed_days"], observations=row["observations"],
                   escalations=row["escalations"], revenue_amount=row["revenue"],
                   currency=row["currency"])
