"""`wardgraph billing verify`: proves that each tenant's bed-day ledger is what its stays say.

For every admission it recomputes, here in Python with the tz database of zoneinfo, the charges
that should stand (policies/bed_days.sql): one per facility-local census instant a stay spans,
at the ward and bed occupied then; every instant for a discharged admission, and up to the
facility's accrual watermark for one still in hospital. It then compares them with the ledger's
net: the charges not cancelled by a reversal. It does not call the database's own functions,
which whoever could rewrite the ledger could also replace.

It reports the first difference of each tenant: a night charged that no stay spans (or twice),
a night a stay spans with no charge, a night charged at another ward or bed than the one
occupied, or a charge in another currency than the facility's. Rates are not recomputed: a
charge keeps the ward's rate of the day it was written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

import asyncpg

from wardgraph.db import audit as tenants_db
from wardgraph.db import billing as db

DAY = timedelta(days=1)


class VerifyError(RuntimeError):
    """The verification cannot run; the message says why."""


@dataclass(frozen=True)
class Night:
    """One bed-day: a service date, its census instant, and where the patient lay."""

    service_date: date
    census_at: datetime
    ward_id: UUID
    bed_id: UUID


@dataclass(frozen=True)
class LedgerReport:
    slug: str
    admissions: int
    bed_days: int
    amount: Decimal
    difference: str | None = None

    @property
    def matches(self) -> bool:
        return self.difference is None

    def line(self) -> str:
        if self.matches:
            return (f"{self.slug}: matches, {self.admissions} admissions, {self.bed_days} "
                    f"net bed-days, {self.amount} charged")
        return f"{self.slug}: DIFFERS at {self.difference}"


# -- local days, as policies/local_days.sql defines them -----------------------------------------

def day_start(day: date, zone: ZoneInfo) -> datetime:
    """Local 00:00 of `day`; where clocks jumped over it, the jump; where it came twice, the
    first (fold=0 reads both that way, PEP 495)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def census_instant(day: date, zone: ZoneInfo) -> datetime:
    return day_start(day + DAY, zone)


def nights_of(started_at: datetime, ended_at: datetime, zone: ZoneInfo) -> Iterable[
        tuple[date, datetime]]:
    """(date, census instant) of each census instant in (started_at, ended_at]; a date the
    zone skipped shares the census of the date before it and is left out."""
    day = started_at.astimezone(zone).date() - DAY
    while (census := census_instant(day, zone)) <= ended_at:
        if census > started_at and day_start(day, zone) < census:
            yield day, census
        day += DAY


# -- one tenant ----------------------------------------------------------------------------------

def expected_nights(admission: asyncpg.Record, stays: list[asyncpg.Record], zone: ZoneInfo,
                    watermark: date | None) -> set[Night]:
    discharged = admission["discharged_at"]
    if discharged is not None:
        horizon = discharged
    elif watermark is not None:
        horizon = census_instant(watermark, zone)
    else:
        return set()
    nights = set()
    for stay in stays:
        ended = stay["ended_at"] or discharged or horizon
        for day, census in nights_of(stay["started_at"], min(ended, horizon), zone):
            nights.add(Night(day, census, stay["ward_id"], stay["bed_id"]))
    return nights


def first_difference(expected: set[Night], standing: list[asyncpg.Record],
                     currency: str) -> str | None:
    """What differs first, by census instant, between the nights expected and the standing
    charges of one admission."""
    by_census = {n.census_at: n for n in expected}
    seen: set[datetime] = set()
    problems: list[tuple[datetime, str]] = []
    for charge in standing:
        census, day = charge["census_at"], charge["service_date"]
        night = by_census.get(census)
        if census in seen:
            problems.append((census, f"{day} is charged twice"))
        elif night is None or night.service_date != day:
            problems.append((census, f"{day} is charged but no stay spans its census instant "
                             f"({census.isoformat()})"))
        elif (night.ward_id, night.bed_id) != (charge["ward_id"], charge["bed_id"]):
            problems.append((census, f"{day} is charged at ward {charge['ward_id']} bed "
                             f"{charge['bed_id']}, but the stay was in ward {night.ward_id} "
                             f"bed {night.bed_id}"))
        elif charge["currency"] != currency:
            problems.append((census, f"{day} is charged in {charge['currency']}, the facility "
                             f"bills in {currency}"))
        seen.add(census)
    for night in expected:
        if night.census_at not in seen:
            problems.append((night.census_at, f"{night.service_date} is spanned by a stay but "
                             "not charged"))
    return min(problems)[1] if problems else None


def verify_tenant(slug: str, facilities: list[asyncpg.Record], admissions: list[asyncpg.Record],
                  stays: list[asyncpg.Record], ledger: list[asyncpg.Record]) -> LedgerReport:
    by_facility = {f["id"]: f for f in facilities}
    stays_of: dict[UUID, list[asyncpg.Record]] = {}
    for stay in stays:
        stays_of.setdefault(stay["admission_id"], []).append(stay)
    reversed_ids = {row["reverses_id"] for row in ledger if row["reverses_id"] is not None}
    standing_of: dict[UUID, list[asyncpg.Record]] = {}
    for row in ledger:
        if row["reverses_id"] is None and row["id"] not in reversed_ids:
            standing_of.setdefault(row["admission_id"], []).append(row)
    bed_days, amount = 0, Decimal("0")
    for admission in admissions:
        facility = by_facility[admission["facility_id"]]
        expected = expected_nights(admission, stays_of.get(admission["id"], []),
                                   ZoneInfo(facility["timezone"]), facility["accrued_through"])
        standing = standing_of.get(admission["id"], [])
        difference = first_difference(expected, standing, facility["currency"])
        if difference is not None:
            return LedgerReport(slug, len(admissions), bed_days, amount,
                                f"admission {admission['number']}: {difference}")
        bed_days += len(standing)
        amount += sum((c["rate"] for c in standing), Decimal("0"))
    admitted = {a["id"] for a in admissions}
    for admission_id in standing_of.keys() - admitted:
        return LedgerReport(slug, len(admissions), bed_days, amount,
                            f"charges of admission {admission_id}, which does not exist")
    return LedgerReport(slug, len(admissions), bed_days, amount)


async def verify(admin_url: str, slug: str | None = None) -> list[LedgerReport]:
    """One report per tenant (or for the one tenant named), read in one snapshot."""
    connection = await asyncpg.connect(admin_url)
    try:
        # Every table forces row security: a role that does not bypass it would read no charge
        # at all and find every ledger matching.
        if not await tenants_db.can_read_every_tenant(connection):
            raise VerifyError("the admin role does not bypass row security, so it cannot read "
                              "the ledger: run as a superuser or a role with BYPASSRLS")
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            tenants = await tenants_db.fetch_tenants(connection, slug)
            if slug is not None and not tenants:
                raise VerifyError(f"no tenant {slug!r}")
            reports = []
            for tenant in tenants:
                rows = await db.fetch_for_verify(connection, tenant["tenant_id"])
                reports.append(verify_tenant(tenant["slug"], *rows))
            return reports
    finally:
        await connection.close()
