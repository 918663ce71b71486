"""Bed-day billing: the answer of an accrual run and the input of accrueBedDays."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import strawberry

from wardgraph.context import RequestContext
from wardgraph.resolvers import organisation
from wardgraph.resolvers.billing import Accrual
from wardgraph.schema.money import Money
from wardgraph.schema.organisation import Facility

Info = strawberry.Info[RequestContext, None]


@strawberry.type(description="What one accrueBedDays run did. A stay is billed one bed-day per "
                 "facility-local census instant (midnight) it spans (started_at < midnight <= "
                 "ended_at), at the daily rate of the ward the patient occupies at that "
                 "midnight: a date the zone skipped bills nothing, a midnight that came twice "
                 "bills once, and an admission that spans no midnight bills no bed-day. Charges "
                 "are a ledger: a back-dated discharge or transfer appends reversals. Running "
                 "again, or twice at once, writes nothing more.")
class AccrualResult:
    facility_id: strawberry.Private[UUID]
    through: date = strawberry.field(description="The last facility-local date charged: every "
                                     "midnight up to the one that ends it is billed.")
    charges_created: int = strawberry.field(description="Bed-day charges this run wrote: the "
                                            "days not charged before (0 when run again).")
    amount: Money = strawberry.field(description="The total of the charges this run wrote, in "
                                     "the facility's currency.")
    bed_days: int = strawberry.field(description="Net bed-days on the books for the date "
                                     "`through` after this run (charges minus reversals), "
                                     "however written (this run, an earlier one, a discharge or "
                                     "a transfer).")

    @strawberry.field(description="The facility accrued.")
    async def facility(self, info: Info) -> Facility:
        return Facility.from_row(await organisation.facility_of(info.context, self.facility_id))

    @classmethod
    def of(cls, accrual: Accrual) -> AccrualResult:
        return cls(facility_id=accrual.facility_id, through=accrual.through,
                   charges_created=accrual.charges_created,
                   amount=Money.of(accrual.amount, accrual.currency), bed_days=accrual.bed_days)


@strawberry.input(description="Accrue a facility's bed-day charges up to a local date.")
class AccrueBedDaysInput:
    facility_id: strawberry.ID = strawberry.field(description="The facility.")
    through: date = strawberry.field(description="The last facility-local date to charge; its "
                                     "midnight must have passed at the facility "
                                     "(VALIDATION_FAILED otherwise).")
