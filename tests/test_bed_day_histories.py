"""Generated histories against an independent reckoning: admissions with transfers and
discharges (some back-dated before accruals that already ran) and accruals at random `through`
dates, in random orders, through the GraphQL API. After every step the ledger's net equals the
nights computed here from the stays with zoneinfo, accruing again changes nothing, and at the
end no date's bed-days exceed its census and `billing verify` finds the ledger matching.

Zones: each of the five named awkward ones around its awkward night (Pacific/Apia's skipped
date, Pacific/Chatham's +13:45 spring, Australia/Lord_Howe's 30-minute spring,
America/St_Johns' repeated midnight, Asia/Kathmandu's move to +05:45), and any zone of the tz
database around a random date."""

from __future__ import annotations

import os
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import available_timezones

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.admitting import admit
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.local_days import (
    DAY,
    STANDING,
    Site,
    accrue,
    census_instant,
    day_start,
    discharge,
    make_site,
    midnights_spanned,
    report,
    transfer,
    uuid_of,
)
from wardgraph.ops.billing_verify import verify

# The local date before each named zone's awkward midnight.
AWKWARD_NIGHTS = {
    "Pacific/Apia": date(2011, 12, 29),
    "Pacific/Chatham": date(2025, 9, 27),
    "Australia/Lord_Howe": date(2025, 10, 4),
    "America/St_Johns": date(2010, 11, 6),
    "Asia/Kathmandu": date(1985, 12, 31),
}
ANY_ZONE = "any"
ZONE_CASES = [pytest.param(zone, id=zone.replace("/", "-")) for zone in AWKWARD_NIGHTS] + [
    pytest.param(ANY_ZONE, id="any-zone")]
WINDOW_DAYS = 6
MAX_ADMISSIONS = 3
MAX_STAYS = 3
RATES = ("100.00", "250.50")
# Histories per zone case: 8 in the default run (48 in all, about 25 s on a busy machine); the
# slow-marked run takes WARDGRAPH_TEST_LEDGER_HISTORIES per case (20 unless set, 120 in all).
DEFAULT_EXAMPLES = 8
LONG_RUN_EXAMPLES = int(os.environ.get("WARDGRAPH_TEST_LEDGER_HISTORIES", "20"))


@dataclass
class Stay:
    ward: int
    bed: int
    started: datetime
    ended: datetime | None = None


@dataclass
class Planned:
    """One admission's moves in time order: admitted, transferred, maybe discharged."""

    times: list[datetime]
    wards: list[int]
    discharged: datetime | None


@dataclass
class History:
    zone: str
    first: date  # the window of local dates the history happens in
    plans: list[Planned]
    steps: list[tuple[str, int]]  # ("move", admission index) or ("accrue", index in throughs)
    throughs: list[date]


@dataclass
class Books:
    """What has happened so far: the stays of each admission and the accrual watermark."""

    stays: dict[int, list[Stay]] = field(default_factory=dict)
    discharged: dict[int, datetime] = field(default_factory=dict)
    watermark: date | None = None


def instant_in(rng: random.Random, zone: str, first: date, days: int) -> datetime:
    """A random instant in the window, often exactly a local midnight, 23:30 or 00:30."""
    day = first + DAY * rng.randrange(days)
    kind = rng.random()
    if kind < 0.2:
        return day_start(day, zone)
    if kind < 0.3:
        return day_start(day + DAY, zone) - timedelta(minutes=30)
    if kind < 0.4:
        return day_start(day, zone) + timedelta(minutes=30)
    return day_start(day, zone) + timedelta(minutes=rng.randrange(24 * 60))


@st.composite
def histories(draw: st.DrawFn, zones: list[str], zone_case: str) -> History:
    if zone_case == ANY_ZONE:
        zone = draw(st.sampled_from(zones))
        night = draw(st.dates(date(2005, 1, 1), date(2024, 12, 1)))
    else:
        zone, night = zone_case, AWKWARD_NIGHTS[zone_case]
    first = night - DAY * 2
    rng = random.Random(draw(st.integers(0, 2**32)))
    plans = []
    for _ in range(draw(st.integers(1, MAX_ADMISSIONS))):
        moves = draw(st.integers(1, MAX_STAYS))
        times = sorted({instant_in(rng, zone, first, WINDOW_DAYS) for _ in range(moves + 1)})
        discharged = draw(st.booleans()) and len(times) > 1
        times = times[:moves] if not discharged else times[:moves + 1]
        wards = [draw(st.integers(0, len(RATES) - 1)) for _ in times]
        plans.append(Planned(times[:len(times) - 1] if discharged else times, wards,
                             times[-1] if discharged else None))
    throughs = draw(st.lists(st.dates(first - DAY, first + DAY * WINDOW_DAYS),
                             min_size=1, max_size=4))
    tokens = [("move", i) for i, p in enumerate(plans)
              for _ in range(len(p.times) + (p.discharged is not None))]
    tokens += [("accrue", k) for k in range(len(throughs))]
    return History(zone, first, plans, draw(st.permutations(tokens)), throughs)


def expected_nights(books: Books, zone: str, admission_ids: dict[int, str],
                    ward_ids: list[str]) -> Counter[tuple[str, date, str]]:
    """(admission, service date, ward) of every charge that should stand: every night of a
    discharged admission, and those up to the watermark's census for one still in."""
    horizon = census_instant(books.watermark, zone) if books.watermark else None
    nights: Counter[tuple[str, date, str]] = Counter()
    for index, stays in books.stays.items():
        up_to = books.discharged.get(index, horizon)
        if up_to is None:
            continue
        for stay in stays:
            for night in midnights_spanned(stay.started, stay.ended, zone, up_to):
                nights[(admission_ids[index], night, ward_ids[stay.ward])] += 1
    return nights


async def standing_nights(admin_url: str, facility: str) -> Counter[tuple[str, date, str]]:
    rows = await admin_fetch(admin_url, f"""
        select admission_id, service_date, ward_id from app.bed_days b
        where facility_id = $1 and {STANDING}""", uuid_of(facility))
    return Counter((str(r["admission_id"]), r["service_date"], str(r["ward_id"])) for r in rows)


async def ledger_size(admin_url: str, facility: str) -> int:
    [row] = await admin_fetch(admin_url, "select count(*) as n from app.bed_days "
                              "where facility_id = $1", uuid_of(facility))
    return int(row["n"])


async def zone_agrees(admin_url: str, zone: str, first: date) -> bool:
    """Whether Postgres' tz database and zoneinfo's start the window's dates at the same
    instants: where two releases of the tz database disagree about history, the reckoning
    here is not independent evidence about the ledger."""
    days = [first + DAY * n for n in range(-1, WINDOW_DAYS + 2)]
    rows = await admin_fetch(admin_url, """
        select app.local_day_start(d, $2) as starts from unnest($1::date[]) d""", days, zone)
    return [r["starts"] for r in rows] == [day_start(d, zone) for d in days]


async def play(api: Api, database: DatabaseUnderTest, tenant: TenantKit,
               history: History) -> None:
    site = await make_site(tenant, f"H{uuid.uuid4().hex[:9].upper()}", history.zone, RATES,
                           beds_per_ward=MAX_ADMISSIONS * MAX_STAYS)
    admission_ids: dict[int, str] = {}
    books = Books()
    next_move = Counter[int]()
    for kind, index in history.steps:
        if kind == "accrue":
            through = history.throughs[index]
            await accrue(api, site.billing, site.facility, through)
            books.watermark = max(through, books.watermark or through)
        else:
            await move(api, site, history.plans[index], index, next_move[index], books,
                       admission_ids)
            next_move[index] += 1
        ward_ids = [uuid_of(w) for w in site.wards]
        expected = expected_nights(books, history.zone, {
            i: str(uuid_of(a)) for i, a in admission_ids.items()}, [str(w) for w in ward_ids])
        assert await standing_nights(database.admin_url, site.facility) == expected, (
            kind, index)
        if books.watermark is not None:
            before = await ledger_size(database.admin_url, site.facility)
            again = await accrue(api, site.billing, site.facility, books.watermark)
            assert again["chargesCreated"] == 0
            assert await ledger_size(database.admin_url, site.facility) == before
    rows = await report(api, site.billing, site.facility, history.first - DAY,
                        history.first + DAY * WINDOW_DAYS)
    assert all(row["bedDays"] <= (row["census"] or 0) for row in rows), rows
    [verified] = await verify(database.admin_url, tenant.slug)
    assert verified.matches, verified.line()


async def move(api: Api, site: Site, plan: Planned, index: int, step: int, books: Books,
               admission_ids: dict[int, str]) -> None:
    """The step-th move of admission `index`: its admission, a transfer or its discharge."""
    if step == len(plan.times):
        assert plan.discharged is not None
        await discharge(api, site.nurse, admission_ids[index], plan.discharged)
        books.stays[index][-1].ended = plan.discharged
        books.discharged[index] = plan.discharged
        return
    at, ward = plan.times[step], plan.wards[step]
    bed = index * MAX_STAYS + step  # a bed of its own: no two stays ever compete for one
    if step == 0:
        admitted = await admit(api, site.nurse, await site.patient(), site.beds[ward][bed], at)
        admission_ids[index] = admitted["id"]
        books.stays[index] = [Stay(ward, bed, at)]
        return
    await transfer(api, site.nurse, admission_ids[index], site.beds[ward][bed], at)
    books.stays[index][-1].ended = at
    books.stays[index].append(Stay(ward, bed, at))


@pytest.fixture(scope="module")
async def zones(database: DatabaseUnderTest) -> list[str]:
    """Every zone both tz databases name (Postgres' and zoneinfo's)."""
    rows = await admin_fetch(database.admin_url, "select name from pg_timezone_names")
    return sorted(available_timezones() & {r["name"] for r in rows} - {"localtime"})


async def check(api: Api, database: DatabaseUnderTest, tenant: TenantKit, zones: list[str],
                zone_case: str, data: st.DataObject) -> None:
    history = data.draw(histories(zones, zone_case))
    assume(await zone_agrees(database.admin_url, history.zone, history.first))
    await play(api, database, tenant, history)


@pytest.mark.parametrize("zone_case", ZONE_CASES)
@settings(max_examples=DEFAULT_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_the_ledger_equals_the_nights_of_the_stays_after_every_step(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, zones: list[str], zone_case: str,
    data: st.DataObject,
) -> None:
    await check(api, database, tenant, zones, zone_case, data)


@pytest.mark.slow
@pytest.mark.parametrize("zone_case", ZONE_CASES)
@settings(max_examples=LONG_RUN_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_the_ledger_equals_the_nights_of_the_stays_over_many_histories(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, zones: list[str], zone_case: str,
    data: st.DataObject,
) -> None:
    await check(api, database, tenant, zones, zone_case, data)

