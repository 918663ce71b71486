"""The daily report: one row per facility-local date, counted in SQL by app.daily_report() as
wg_reporter, checked against an independent reckoning with zoneinfo."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from freezegun import freeze_time

from tests.admitting import admit
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.local_days import (
    DAY,
    DHAKA,
    PERIOD_END_PARAMS,
    REPORT,
    REPORT_WITHOUT_REVENUE,
    ZONE_PARAMS,
    Site,
    accrue,
    census_date,
    census_instant,
    day_start,
    dhaka_site,
    discharge,
    local,
    make_site,
    midnights_spanned,
    report,
    transfer,
    uuid_of,
    zone_code,
)
from tests.observing import record, vitals
from tests.sql_roles import as_role
from wardgraph.auth.claims import Role


@pytest.fixture
async def dhaka(tenant: TenantKit) -> Site:
    return await dhaka_site(tenant)


def span(first: date, last: date) -> dict[str, str]:
    return {"from": first.isoformat(), "to": last.isoformat()}


async def body_of(api: Api, query: str, site: Site, first: date, last: date,
                  token: str) -> dict[str, Any]:
    return await api.gql(query, {"facilityId": site.facility, **span(first, last)}, token)


def dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# -- who may read it, and what ----------------------------------------------------------------

async def token_for(site: Site, caller: str) -> str:
    if caller == "tenant-admin":
        return site.kit.admin_token  # claims no facility: works across the tenant
    if caller.startswith("partner"):
        scopes = {"partner-reports": ["reports:read"],
                  "partner-reports-and-billing": ["reports:read", "billing:read"],
                  "partner-admissions-only": ["admissions:read", "billing:read"]}[caller]
        return await site.kit.partner(scopes, [site.facility])
    return await site.kit.user(Role(caller.upper()), [site.facility])


@pytest.mark.parametrize(("caller", "code"), [
    pytest.param("admin", None, id="admin"),
    pytest.param("tenant-admin", None, id="admin-of-no-facility-in-particular"),
    pytest.param("billing", None, id="billing"),
    pytest.param("clinician", None, id="clinician"),
    pytest.param("partner-reports", None, id="partner-with-reports-read"),
    pytest.param("nurse", "FORBIDDEN", id="nurse"),
    pytest.param("auditor", "FORBIDDEN", id="auditor"),
    pytest.param("partner-admissions-only", "FORBIDDEN", id="partner-without-reports-read"),
])
async def test_who_may_read_the_daily_report(
    api: Api, dhaka: Site, caller: str, code: str | None,
) -> None:
    token = await token_for(dhaka, caller)
    body = await body_of(api, REPORT_WITHOUT_REVENUE, dhaka, date(2025, 1, 1),
                         date(2025, 1, 3), token)
    if code is None:
        assert "errors" not in body, body
        assert [row["date"] for row in body["data"]["dailyReport"]] == [
            "2025-01-01", "2025-01-02", "2025-01-03"]
    else:
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize(("caller", "sees_revenue"), [
    pytest.param("admin", True, id="admin"),
    pytest.param("tenant-admin", True, id="admin-of-no-facility-in-particular"),
    pytest.param("billing", True, id="billing"),
    pytest.param("partner-reports-and-billing", True, id="partner-with-billing-read"),
    pytest.param("clinician", False, id="clinician"),
    pytest.param("partner-reports", False, id="partner-without-billing-read"),
])
async def test_revenue_is_for_those_who_see_money_and_forbidden_on_the_field_for_others(
    api: Api, dhaka: Site, caller: str, sees_revenue: bool,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[1][0],
                            local(date(2025, 1, 1), 10, 0, DHAKA))
    await discharge(api, dhaka.nurse, admission["id"], local(date(2025, 1, 3), 10, 0, DHAKA))
    body = await body_of(api, REPORT, dhaka, date(2025, 1, 1), date(2025, 1, 2),
                         await token_for(dhaka, caller))
    rows = body["data"]["dailyReport"]
    assert [(row["date"], row["bedDays"]) for row in rows] == [("2025-01-01", 1),
                                                               ("2025-01-02", 1)]
    if sees_revenue:
        assert "errors" not in body, body
        assert [row["revenue"] for row in rows] == [{"amount": "400.00", "currency": "USD"}] * 2
    else:
        assert [row["revenue"] for row in rows] == [None, None]
        assert [(e["extensions"]["code"], e["path"]) for e in body["errors"]] == [
            ("FORBIDDEN", ["dailyReport", 0, "revenue"]),
            ("FORBIDDEN", ["dailyReport", 1, "revenue"])]


async def test_the_report_of_another_facility_or_tenant_is_not_found(
    api: Api, dhaka: Site, other_tenant: TenantKit,
) -> None:
    elsewhere = await dhaka.kit.facility("CGP", DHAKA)
    for facility in (elsewhere, other_tenant.facilities["DHK"]):
        body = await api.gql(REPORT_WITHOUT_REVENUE, {"facilityId": facility,
                                                      **span(date(2025, 1, 1),
                                                             date(2025, 1, 1))},
                             dhaka.billing)
        assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND"}


@pytest.mark.parametrize(("first", "last", "expected"), [
    pytest.param(date(2025, 1, 1), date(2025, 12, 31), None, id="365-dates"),
    pytest.param(date(2024, 1, 1), date(2024, 12, 31), None, id="366-dates-of-a-leap-year"),
    pytest.param(date(2024, 1, 1), date(2025, 1, 1), "to", id="367-dates"),
    pytest.param(date(2025, 1, 2), date(2025, 1, 1), "to", id="to-before-from"),
])
async def test_a_report_covers_at_most_366_dates(
    api: Api, dhaka: Site, first: date, last: date, expected: str | None,
) -> None:
    body = await body_of(api, REPORT_WITHOUT_REVENUE, dhaka, first, last, dhaka.billing)
    if expected is None:
        assert [row["date"] for row in body["data"]["dailyReport"]] == [
            d.isoformat() for d in dates(first, last)]
    else:
        assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                                   "field": expected}


# -- local dates -------------------------------------------------------------------------------

async def test_one_row_per_local_date_across_both_dst_changes_and_a_year_end(
    api: Api, tenant: TenantKit,
) -> None:
    zone = "America/New_York"
    site = await make_site(tenant, "NYC", zone)
    await admit(api, site.nurse, await site.patient(), site.beds[0][0],
                local(date(2024, 10, 30), 9, 0, zone))
    first, last = date(2024, 10, 30), date(2025, 3, 12)
    with freeze_time(local(last + DAY, 9, 0, zone), real_asyncio=True):
        rows = await report(api, site.billing, site.facility, first, last)
    assert [row["date"] for row in rows] == [d.isoformat() for d in dates(first, last)]
    assert {row["census"] for row in rows} == {1}
    assert sum(row["admissions"] for row in rows) == 1


@pytest.mark.parametrize("period_end", PERIOD_END_PARAMS)
@pytest.mark.parametrize("zone", ZONE_PARAMS)
async def test_an_admission_at_2330_is_on_that_date_and_at_0030_on_the_next(
    api: Api, tenant: TenantKit, zone: str, period_end: date,
) -> None:
    site = await make_site(tenant, zone_code(zone), zone)
    next_day = period_end + DAY
    for moment, bed in ((local(period_end, 23, 30, zone), site.beds[0][0]),
                        (local(next_day, 0, 30, zone), site.beds[0][1])):
        patient = await site.patient()
        with freeze_time(moment, real_asyncio=True):  # admitted at the request's clock
            await admit(api, site.nurse, patient, bed)
    with freeze_time(local(next_day, 10, 0, zone), real_asyncio=True):
        rows = await report(api, site.billing, site.facility, period_end, next_day)
    assert [(row["date"], row["admissions"], row["census"]) for row in rows] == [
        (period_end.isoformat(), 1, 1), (next_day.isoformat(), 1, None)]


async def test_dhaka_day_closes_at_1800_utc(api: Api, dhaka: Site) -> None:
    for moment, bed in ((datetime(2025, 1, 31, 17, 59, 59, tzinfo=UTC), dhaka.beds[0][0]),
                        (datetime(2025, 1, 31, 18, 0, tzinfo=UTC), dhaka.beds[0][1])):
        patient = await dhaka.patient()
        with freeze_time(moment, real_asyncio=True):
            await admit(api, dhaka.nurse, patient, bed)
            await record(api, dhaka.nurse, patient)
    with freeze_time(datetime(2025, 1, 31, 18, 0, tzinfo=UTC), real_asyncio=True):
        rows = await report(api, dhaka.billing, dhaka.facility, date(2025, 1, 31),
                            date(2025, 2, 1))
    assert [(r["date"], r["admissions"], r["observations"], r["census"]) for r in rows] == [
        ("2025-01-31", 1, 1, 1), ("2025-02-01", 1, 1, None)]


async def test_billing_sees_how_many_observations_and_escalations_but_cannot_read_one(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    patient = await dhaka.patient()
    for moment, given in ((local(date(2025, 2, 1), 8, 0, DHAKA), vitals()),
                          (local(date(2025, 2, 1), 23, 59, DHAKA), vitals(respirationRate=25)),
                          (local(date(2025, 2, 2), 0, 0, DHAKA), vitals(spo2=91))):
        with freeze_time(moment, real_asyncio=True):
            await record(api, dhaka.nurse, patient, given)
    rows = await report(api, dhaka.billing, dhaka.facility, date(2025, 2, 1), date(2025, 2, 2))
    assert [(r["observations"], r["escalations"]) for r in rows] == [(2, 1), (1, 1)]
    async with as_role(database.api_url, Role.BILLING, dhaka.kit.tenant_id,
                       (uuid_of(dhaka.facility),)) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch("select recorded_at from app.observations")


@pytest.mark.parametrize(("role", "scopes"), [
    pytest.param(Role.NURSE, (), id="nurse-has-no-execute"),
    pytest.param(Role.PARTNER, ("admissions:read",), id="partner-without-reports-read"),
])
async def test_the_report_function_itself_refuses_callers_the_api_refuses(
    database: DatabaseUnderTest, dhaka: Site, role: Role, scopes: tuple[str, ...],
) -> None:
    async with as_role(database.api_url, role, dhaka.kit.tenant_id, (uuid_of(dhaka.facility),),
                       scopes) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch("select * from app.daily_report($1, $2, $2, $3)",
                                   uuid_of(dhaka.facility), date(2025, 1, 1),
                                   datetime(2025, 6, 1, tzinfo=UTC))


async def test_the_report_function_counts_only_what_the_callers_claims_reach(
    api: Api, database: DatabaseUnderTest, dhaka: Site, other_tenant: TenantKit,
) -> None:
    other = await make_site(dhaka.kit, "CGP", DHAKA)
    for site in (dhaka, other):
        await admit(api, site.nurse, await site.patient(), site.beds[0][0],
                    local(date(2025, 1, 1), 10, 0, DHAKA))
    call = "select admissions, census from app.daily_report($1, $2, $2, $3)"
    args = (date(2025, 1, 1), datetime(2025, 6, 1, tzinfo=UTC))
    async with as_role(database.api_url, Role.BILLING, dhaka.kit.tenant_id,
                       (uuid_of(dhaka.facility),)) as connection:
        found = await connection.fetch(call, uuid_of(dhaka.facility), *args)
        assert [tuple(r) for r in found] == [(1, 1)]
        for elsewhere in (other.facility, other_tenant.facilities["DHK"]):
            with pytest.raises(asyncpg.ForeignKeyViolationError):
                async with connection.transaction():  # a savepoint, undone by the refusal
                    await connection.fetch(call, uuid_of(elsewhere), *args)


async def test_no_request_can_become_the_reporter_role(database: DatabaseUnderTest) -> None:
    connection = await asyncpg.connect(database.api_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("select set_config('role', 'wg_reporter', false)")
    finally:
        await connection.close()


# -- the totals agree with an independent reckoning --------------------------------------------

@dataclass
class PlannedStay:
    ward: int
    started: datetime
    ended: datetime | None


@dataclass
class PlannedAdmission:
    stays: list[PlannedStay]
    discharged: datetime | None

    @property
    def admitted(self) -> datetime:
        return self.stays[0].started


def awkward_instant(rng: random.Random, zone: str, low: datetime, high: datetime) -> datetime:
    """A random instant in [low, high], often exactly a local midnight, 23:30 or 00:30."""
    moment = (low + (high - low) * rng.random()).replace(microsecond=0)
    day = moment.astimezone(ZoneInfo(zone)).date()
    pick = rng.random()
    if pick < 0.2:
        moment = day_start(day, zone)
    elif pick < 0.3:
        moment = local(day, 23, 30, zone).astimezone(UTC)
    elif pick < 0.4:
        moment = local(day, 0, 30, zone).astimezone(UTC)
    return min(max(moment, low), high)


def plan_admissions(rng: random.Random, zone: str, low: datetime, high: datetime,
                    count: int, wards: int) -> list[PlannedAdmission]:
    """Admissions with 0-2 transfers, most of them discharged; some within hours (often
    spanning no midnight), some over days, some over the whole period."""
    planned: list[PlannedAdmission] = []
    while len(planned) < count:
        transfers = rng.choice([0, 0, 1, 2])
        discharged = rng.random() < 0.7
        admitted = awkward_instant(rng, zone, low, high)
        horizon = min(high, admitted + rng.choice([timedelta(hours=8), timedelta(days=3),
                                                   high - low]))
        later = sorted({awkward_instant(rng, zone, admitted, horizon)
                        for _ in range(transfers + discharged)} - {admitted})
        if len(later) < transfers + discharged:
            continue
        times = [admitted, *later]
        ward_order = [rng.randrange(wards)]
        for _ in range(transfers):
            ward_order.append(rng.choice([w for w in range(wards) if w != ward_order[-1]]))
        ends: list[datetime | None] = [*times[1:], None]
        stays = [PlannedStay(ward, start, end)
                 for ward, start, end in zip(ward_order, times, ends, strict=False)]
        planned.append(PlannedAdmission(stays, times[-1] if discharged else None))
    return planned


def expected_charges(planned: PlannedAdmission, zone: str,
                     accrued_up_to: datetime) -> list[tuple[date, int]]:
    """(service date, ward) of each charge: discharged admissions in full (the discharge
    finalised them), active ones up to the last midnight accrued. One a census instant: an
    admission that spanned none is charged nothing."""
    charged: list[tuple[date, int]] = []
    for stay in planned.stays:
        up_to = planned.discharged if planned.discharged else accrued_up_to
        charged += [(d, stay.ward) for d in midnights_spanned(stay.started, stay.ended, zone,
                                                             up_to)]
    return charged


def reckon(plans: list[PlannedAdmission], observed: list[tuple[datetime, bool]], zone: str,
           first: date, last: date, now: datetime, through: date,
           rates: list[Decimal]) -> list[dict[str, Any]]:
    charged = Counter(c for p in plans for c in expected_charges(p, zone,
                                                                 census_instant(through, zone)))
    rows = []
    for day in dates(first, last):
        census = census_instant(day, zone)
        in_bed = [s for p in plans for s in p.stays
                  if s.started < census and (s.ended is None or census <= s.ended)]
        revenue = sum((rates[ward] * n for (d, ward), n in charged.items() if d == day),
                      Decimal("0"))
        rows.append({
            "date": day.isoformat(),
            "census": len(in_bed) if census <= now else None,
            "admissions": sum(census_date(p.admitted, zone) == day for p in plans),
            "discharges": sum(p.discharged is not None and census_date(p.discharged, zone) == day
                              for p in plans),
            "transfers": sum(census_date(s.started, zone) == day
                             for p in plans for s in p.stays[1:]),
            "bedDays": sum(n for (d, _), n in charged.items() if d == day),
            "observations": sum(census_date(at, zone) == day for at, _ in observed),
            "escalations": sum(census_date(at, zone) == day for at, escalates in observed
                               if escalates),
            "revenue": {"amount": f"{revenue:.2f}", "currency": "USD"},
        })
    return rows


@pytest.mark.parametrize(("zone", "first", "last", "seed"), [
    pytest.param("America/New_York", date(2024, 10, 28), date(2025, 1, 3), 11,
                 id="new-york-fall-back-and-year-end"),
    pytest.param("Australia/Lord_Howe", date(2024, 9, 30), date(2025, 1, 2), 23,
                 id="lord-howe-half-hour-spring-and-year-end"),
    pytest.param("Europe/London", date(2025, 3, 25), date(2025, 4, 8), 37,
                 id="london-spring-forward"),
])
async def test_report_rows_agree_with_an_independent_reckoning_of_generated_stays(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, zone: str, first: date,
    last: date, seed: int,
) -> None:
    rng = random.Random(seed)
    rates = [Decimal("100.00"), Decimal("250.50"), Decimal("999.99")]
    patients_count = 16
    site = await make_site(tenant, zone_code(zone), zone, tuple(str(r) for r in rates),
                           beds_per_ward=patients_count)
    now = local(last, 15, 0, zone)  # the last date's midnight is still to come
    through = last - DAY
    plans = plan_admissions(rng, zone, day_start(first, zone) - 4 * DAY, now,
                            patients_count, len(rates))
    patients = [await site.patient() for _ in plans]
    with freeze_time(now, real_asyncio=True):
        # Each patient has a bed of their own in every ward: back-dated entries never collide.
        for index, (patient, plan) in enumerate(zip(patients, plans, strict=True)):
            beds = [site.beds[stay.ward][index] for stay in plan.stays]
            admission = await admit(api, site.nurse, patient, beds[0], plan.admitted)
            for stay, bed in zip(plan.stays[1:], beds[1:], strict=True):
                await transfer(api, site.nurse, admission["id"], bed, stay.started)
            if plan.discharged is not None:
                await discharge(api, site.nurse, admission["id"], plan.discharged)
    observed: list[tuple[datetime, bool]] = []
    for _ in range(10):
        moment = awkward_instant(rng, zone, day_start(first, zone), now)
        escalates = rng.random() < 0.5
        with freeze_time(moment, real_asyncio=True):
            await record(api, site.nurse, rng.choice(patients),
                         vitals(respirationRate=25) if escalates else vitals())
        observed.append((moment, escalates))
    with freeze_time(now, real_asyncio=True):
        await accrue(api, site.billing, site.facility, through)
        rows = await report(api, site.billing, site.facility, first, last)

    expected = reckon(plans, observed, zone, first, last, now, through, rates)
    assert rows == expected

    # Per ward, the net charges of each night are its midnight census times its rate.
    stored = await admin_fetch(database.admin_url, """
        select service_date, ward_id, sum(units) as charges, sum(units * rate) as amount
        from app.bed_days where facility_id = $1 and service_date between $2 and $3
        group by 1, 2""", uuid_of(site.facility), first, through)
    by_ward = {(r["service_date"], r["ward_id"]): (r["charges"], r["amount"]) for r in stored}
    for day in dates(first, through):
        census = census_instant(day, zone)
        for ward, rate in enumerate(rates):
            in_ward = sum(1 for p in plans for s in p.stays if s.ward == ward
                          and s.started < census and (s.ended is None or census <= s.ended))
            charges, amount = by_ward.get((day, uuid_of(site.wards[ward])), (0, Decimal("0")))
            assert (charges, amount) == (in_ward, rate * in_ward)
    # And over the report: every census place of an accrued date is a bed-day, and no more.
    closed = [row for row in rows if row["date"] <= through.isoformat()]
    assert [row["census"] for row in closed] == [row["bedDays"] for row in closed]
