"""Facility-local days as the tests check them: the awkward zones, an independent reckoning of
local days with zoneinfo, and the documents and set-up shared by the bed-day, daily-report and
admission-number tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from tests.admitting import DISCHARGE, TRANSFER, discharge_input, transfer_input
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api
from wardgraph import ids
from wardgraph.auth.claims import Role

# Every zone the issue names: whole, half- and quarter-hour offsets, DST both ways, a 30-minute
# DST, and the Chatham Islands' +12:45/+13:45.
AWKWARD_ZONES = (
    "Asia/Dhaka", "Asia/Kathmandu", "America/New_York", "Europe/London", "Australia/Lord_Howe",
    "Pacific/Chatham", "America/St_Johns",
)
ZONE_PARAMS = [pytest.param(zone, id=zone.replace("/", "-")) for zone in AWKWARD_ZONES]

# The last day of a month and the last day of a year.
DAY = timedelta(days=1)
DHAKA = "Asia/Dhaka"

YEAR_END = date(2024, 12, 31)
MONTH_END = date(2025, 4, 30)
PERIOD_END_PARAMS = [pytest.param(YEAR_END, id="year-end"),
                     pytest.param(MONTH_END, id="month-end")]

# -- local days, reckoned with zoneinfo rather than with the SQL under test ---------------------


def local(day: date, hour: int, minute: int, zone: str) -> datetime:
    """A wall-clock time at a facility, as an aware instant."""
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(zone))


def day_start(day: date, zone: str) -> datetime:
    """The first instant whose local date is `day` or later, in UTC.

    fold=0 reads a midnight the clocks jumped over with the offset from before the jump (the
    jump itself) and a midnight that came twice as the first of the two (PEP 495).
    """
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def census_instant(day: date, zone: str) -> datetime:
    """The midnight that ends `day`."""
    return day_start(day + timedelta(days=1), zone)


def census_date(at: datetime, zone: str) -> date:
    """The local date `at` belongs to: the date whose census is the first one after it."""
    clock_date = at.astimezone(ZoneInfo(zone)).date()
    if census_instant(clock_date, zone) <= at:
        return clock_date + timedelta(days=1)
    return clock_date


def date_existed(day: date, zone: str) -> bool:
    """Whether the zone lived through `day` at all: False for a date its clocks skipped
    (Pacific/Apia's 2011-12-30), which begins where the next date begins."""
    return day_start(day, zone) < census_instant(day, zone)


def midnights_spanned(started_at: datetime, ended_at: datetime | None, zone: str,
                      up_to: datetime) -> list[date]:
    """The local dates whose census instant falls in (started_at, ended_at], counting only
    census instants up to `up_to`, by walking the census instants one by one. One date per
    census instant: a skipped date shares the census of the date before it and is left out."""
    end = min(ended_at, up_to) if ended_at is not None else up_to
    days = []
    day = started_at.astimezone(ZoneInfo(zone)).date() - timedelta(days=1)
    while census_instant(day, zone) <= end:
        if census_instant(day, zone) > started_at and date_existed(day, zone):
            days.append(day)
        day += timedelta(days=1)
    return days


# -- GraphQL -----------------------------------------------------------------------------------

ACCRUE = """
mutation($facilityId: ID!, $through: Date!) {
  accrueBedDays(input: {facilityId: $facilityId, through: $through}) {
    facility { id } through chargesCreated amount { amount currency } bedDays
  }
}"""

ACCRUE_WITH_INPUT = """
mutation($input: AccrueBedDaysInput!) {
  accrueBedDays(input: $input) {
    facility { id } through chargesCreated amount { amount currency } bedDays
  }
}"""

REPORT_FIELDS = """date census admissions discharges transfers bedDays observations escalations"""

REPORT = f"""
query($facilityId: ID!, $from: Date!, $to: Date!) {{
  dailyReport(facilityId: $facilityId, from: $from, to: $to) {{
    {REPORT_FIELDS} revenue {{ amount currency }}
  }}
}}"""

REPORT_WITHOUT_REVENUE = f"""
query($facilityId: ID!, $from: Date!, $to: Date!) {{
  dailyReport(facilityId: $facilityId, from: $from, to: $to) {{ {REPORT_FIELDS} }}
}}"""


async def accrue(api: Api, token: str, facility: str, through: date) -> dict[str, Any]:
    """The answer of an accrual that must succeed."""
    data = await api.data(ACCRUE, {"facilityId": facility, "through": through.isoformat()},
                          token)
    result: dict[str, Any] = data["accrueBedDays"]
    return result


async def report(api: Api, token: str, facility: str, first: date,
                 last: date) -> list[dict[str, Any]]:
    """The rows of a daily report that must succeed."""
    data = await api.data(REPORT, {"facilityId": facility, "from": first.isoformat(),
                                   "to": last.isoformat()}, token)
    rows: list[dict[str, Any]] = data["dailyReport"]
    return rows


async def transfer(api: Api, token: str, admission: str, bed: str, at: datetime) -> None:
    await api.data(TRANSFER, transfer_input(admission, bed, at), token)


async def discharge(api: Api, token: str, admission: str, at: datetime) -> None:
    await api.data(DISCHARGE, discharge_input(admission, at), token)


def uuid_of(global_id: str) -> uuid.UUID:
    parsed = ids.parse(global_id)
    assert parsed is not None
    return parsed[1]


# The charges that stand: not reversals, and not reversed by one.
STANDING = """
b.reverses_id is null
and not exists (select 1 from app.bed_days r
                where r.tenant_id = b.tenant_id and r.reverses_id = b.id)"""


async def charges(admin_url: str, admission: str) -> list[asyncpg.Record]:
    """The standing bed-day charges of an admission, by service date (read as superuser)."""
    return await admin_fetch(admin_url, f"""
        select service_date, census_at, ward_id, bed_id, rate, currency, accrued_at
        from app.bed_days b
        where admission_id = $1 and {STANDING} order by service_date""", uuid_of(admission))


async def ledger(admin_url: str, admission: str) -> list[asyncpg.Record]:
    """Every ledger row of an admission, by census instant: its charges, then its reversals."""
    return await admin_fetch(admin_url, """
        select b.id, b.service_date, b.census_at, b.entry, b.units, b.rate, b.reason,
               b.reverses_id, b.follows_id, w.name as ward
        from app.bed_days b join app.wards w on w.tenant_id = b.tenant_id and w.id = b.ward_id
        where b.admission_id = $1
        order by b.census_at, b.entry, b.accrued_at""", uuid_of(admission))


async def charged_dates(admin_url: str, admission: str) -> list[date]:
    return [r["service_date"] for r in await charges(admin_url, admission)]


# -- set-up ------------------------------------------------------------------------------------

@dataclass
class Site:
    """A facility in one zone with wards at known rates, beds, and staff who work there."""

    kit: TenantKit
    zone: str
    facility: str
    wards: list[str]
    rates: list[Decimal]
    beds: list[list[str]]  # beds[ward index]
    nurse: str
    billing: str

    async def patient(self) -> str:
        return await self.kit.patient(self.facility)


async def make_site(kit: TenantKit, code: str, zone: str, rates: tuple[str, ...] = ("250.00",),
                    beds_per_ward: int = 2) -> Site:
    facility = await kit.facility(code, zone)
    wards, beds = [], []
    for index, rate in enumerate(rates):
        ward = await kit.ward(facility, f"Ward {index + 1}", rate)
        wards.append(ward)
        beds.append([await kit.bed(ward, f"W{index + 1}-{n:02d}")
                     for n in range(1, beds_per_ward + 1)])
    return Site(kit, zone, facility, wards, [Decimal(r) for r in rates], beds,
                await kit.user(Role.NURSE, [facility]), await kit.user(Role.BILLING, [facility]))


def zone_code(zone: str) -> str:
    """A facility code for a zone: upper-case letters of its city."""
    return "".join(c for c in zone.rsplit("/", 1)[-1].upper() if c.isalpha())[:10]


async def dhaka_site(kit: TenantKit) -> Site:
    """A Dhaka facility (UTC+6) with two wards, at 100.00 and 400.00 a day."""
    return await make_site(kit, "DAC", DHAKA, ("100.00", "400.00"), beds_per_ward=4)
