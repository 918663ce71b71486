"""Bed-day billing: one charge per facility-local census instant a stay spans, at the rate of the
ward occupied at that midnight, written by accrueBedDays (idempotent) and finalised by every
discharge in the database. The ledger's own rules (reversals, append-only, who may write) are in
tests/test_bed_day_ledger.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from freezegun import freeze_time

from tests.admitting import admit, outcomes, released_together
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.local_days import (
    ACCRUE,
    ACCRUE_WITH_INPUT,
    DAY,
    DHAKA,
    PERIOD_END_PARAMS,
    ZONE_PARAMS,
    Site,
    accrue,
    charged_dates,
    charges,
    dhaka_site,
    discharge,
    local,
    make_site,
    midnights_spanned,
    transfer,
    uuid_of,
    zone_code,
)
from tests.sql_roles import as_role
from wardgraph.auth.claims import Role


@pytest.fixture
async def dhaka(tenant: TenantKit) -> Site:
    return await dhaka_site(tenant)


def dates(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


async def error_of(api: Api, query: str, variables: dict[str, Any],
                   token: str) -> dict[str, Any]:
    body = await api.gql(query, variables, token)
    assert body["data"] is None, body
    error: dict[str, Any] = body["errors"][0]
    return error


def accrual(facility: str, through: date) -> dict[str, Any]:
    return {"facilityId": facility, "through": through.isoformat()}


async def facility_charges(database: DatabaseUnderTest, site: Site) -> list[asyncpg.Record]:
    return await admin_fetch(database.admin_url, """
        select admission_id, service_date, rate from app.bed_days where facility_id = $1
        order by admission_id, service_date""", uuid_of(site.facility))


# -- who may accrue, and how it is asked -------------------------------------------------------

@pytest.mark.parametrize(("role", "code"), [
    pytest.param(Role.ADMIN, None, id="admin"),
    pytest.param(Role.BILLING, None, id="billing"),
    pytest.param(Role.CLINICIAN, "FORBIDDEN", id="clinician"),
    pytest.param(Role.NURSE, "FORBIDDEN", id="nurse"),
    pytest.param(Role.AUDITOR, "FORBIDDEN", id="auditor"),
    pytest.param(Role.PARTNER, "FORBIDDEN", id="partner-with-billing-read"),
])
async def test_only_admin_and_billing_accrue_bed_days(
    api: Api, dhaka: Site, role: Role, code: str | None,
) -> None:
    if role is Role.PARTNER:
        token = await dhaka.kit.partner(["billing:read", "reports:read"], [dhaka.facility])
    else:
        token = await dhaka.kit.user(role, [dhaka.facility])
    body = await api.gql(ACCRUE, accrual(dhaka.facility, date(2025, 1, 1)), token)
    if code is None:
        assert "errors" not in body, body
        assert body["data"]["accrueBedDays"]["through"] == "2025-01-01"
    else:
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code


@pytest.mark.parametrize(("arguments", "code"), [
    pytest.param("(input: {facilityId: $facility, through: $through})", None, id="input"),
    pytest.param("(facilityId: $facility, through: $through)", "GRAPHQL_VALIDATION_FAILED",
                 id="arguments"),
    pytest.param("", "GRAPHQL_VALIDATION_FAILED", id="neither"),
])
async def test_accrual_takes_its_facility_and_through_as_input_only(
    api: Api, dhaka: Site, arguments: str, code: str | None,
) -> None:
    used = [f"${name}: {kind}" for name, kind in (("facility", "ID!"), ("through", "Date!"))
            if f"${name}" in arguments]
    signature = f"({', '.join(used)})" if used else ""
    query = (f"mutation{signature} {{ accrueBedDays{arguments} "
             "{ through chargesCreated } }")
    variables = {k: v for k, v in {"facility": dhaka.facility, "through": "2025-01-01"}.items()
                 if f"${k}" in arguments}
    body = await api.gql(query, variables, dhaka.billing)
    if code is None:
        assert body["data"]["accrueBedDays"] == {"through": "2025-01-01", "chargesCreated": 0}
    else:
        assert "data" not in body  # refused before execution: nothing ran
        assert body["errors"][0]["extensions"]["code"] == code


async def test_billing_of_another_facility_or_tenant_finds_nothing(
    api: Api, dhaka: Site, other_tenant: TenantKit,
) -> None:
    elsewhere = await dhaka.kit.facility("CGP", DHAKA)
    for facility in (elsewhere, other_tenant.facilities["DHK"]):
        error = await error_of(api, ACCRUE, accrual(facility, date(2025, 1, 1)), dhaka.billing)
        assert error["extensions"] == {"code": "NOT_FOUND"}


# -- local midnights ---------------------------------------------------------------------------

async def test_dhaka_day_closes_at_1800_utc(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            datetime(2025, 1, 31, 6, tzinfo=UTC))
    with freeze_time(datetime(2025, 1, 31, 17, 59, 59, tzinfo=UTC), real_asyncio=True):
        early = await error_of(api, ACCRUE, accrual(dhaka.facility, date(2025, 1, 31)),
                               dhaka.billing)
    assert early["extensions"] == {"code": "VALIDATION_FAILED", "field": "through"}
    with freeze_time(datetime(2025, 1, 31, 18, tzinfo=UTC), real_asyncio=True):
        result = await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 31))
    assert (result["chargesCreated"], result["bedDays"]) == (1, 1)
    assert await charged_dates(database.admin_url, admission["id"]) == [date(2025, 1, 31)]


@pytest.mark.parametrize("period_end", PERIOD_END_PARAMS)
@pytest.mark.parametrize("zone", ZONE_PARAMS)
async def test_bed_day_lands_on_the_local_date_at_2330_and_0030(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, zone: str, period_end: date,
) -> None:
    site = await make_site(tenant, zone_code(zone), zone)
    next_day = period_end + DAY
    with freeze_time(local(next_day, 10, 0, zone), real_asyncio=True):
        late = await admit(api, site.nurse, await site.patient(), site.beds[0][0],
                           local(period_end, 23, 30, zone))
        early = await admit(api, site.nurse, await site.patient(), site.beds[0][1],
                            local(next_day, 0, 30, zone))
        result = await accrue(api, site.billing, site.facility, period_end)
        for admission in (late, early):
            await discharge(api, site.nurse, admission["id"], local(next_day, 8, 0, zone))
    assert result["chargesCreated"] == 1
    # Across the midnight: billed for the day it ends. Within the new day: no census, no charge.
    assert await charged_dates(database.admin_url, late["id"]) == [period_end]
    assert await charged_dates(database.admin_url, early["id"]) == []


@pytest.mark.parametrize(("zone", "spring", "autumn"), [
    pytest.param("America/New_York", date(2025, 3, 9), date(2025, 11, 2), id="new-york"),
    pytest.param("Europe/London", date(2025, 3, 30), date(2025, 10, 26), id="london"),
    pytest.param("Australia/Lord_Howe", date(2025, 10, 5), date(2025, 4, 6),
                 id="lord-howe-half-hour"),
    pytest.param("Pacific/Chatham", date(2025, 9, 28), date(2025, 4, 6), id="chatham"),
])
async def test_a_stay_across_spring_forward_and_fall_back_bills_one_bed_day_a_night(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, zone: str, spring: date,
    autumn: date,
) -> None:
    site = await make_site(tenant, zone_code(zone), zone)
    for changeover, bed in sorted(((spring, site.beds[0][0]), (autumn, site.beds[0][1]))):
        # From the afternoon two days before the clocks change to the morning two days after:
        # four nights, one of them 23 or 25 hours long (23.5 or 24.5 on Lord Howe).
        admitted, discharged = (local(changeover - 2 * DAY, 15, 0, zone),
                                local(changeover + 2 * DAY, 9, 0, zone))
        with freeze_time(discharged + timedelta(hours=2), real_asyncio=True):
            admission = await admit(api, site.nurse, await site.patient(), bed, admitted)
            await accrue(api, site.billing, site.facility, changeover + DAY)
            accrued = await charged_dates(database.admin_url, admission["id"])
            await discharge(api, site.nurse, admission["id"], discharged)
        expected = dates(changeover - 2 * DAY, changeover + DAY)
        assert accrued == expected
        assert await charged_dates(database.admin_url, admission["id"]) == expected
        assert expected == midnights_spanned(admitted, discharged, zone, discharged)


async def test_admitted_at_midnight_is_first_billed_at_the_next_and_discharged_at_midnight_is(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            local(date(2025, 1, 10), 0, 0, DHAKA))
    await discharge(api, dhaka.nurse, admission["id"], local(date(2025, 1, 12), 0, 0, DHAKA))
    assert await charged_dates(database.admin_url, admission["id"]) == [
        date(2025, 1, 10), date(2025, 1, 11)]


@pytest.mark.parametrize(("moved_at", "rates"), [
    pytest.param(local(date(2025, 1, 11), 0, 0, DHAKA), ["100.00", "400.00"],
                 id="at-midnight-the-day-stays-with-the-ward-left"),
    pytest.param(local(date(2025, 1, 10), 23, 59, DHAKA), ["400.00", "400.00"],
                 id="before-midnight-the-new-ward-bills-it"),
    pytest.param(local(date(2025, 1, 11), 0, 1, DHAKA), ["100.00", "400.00"],
                 id="after-midnight-the-old-ward-billed-it"),
])
async def test_the_day_is_charged_at_the_rate_of_the_ward_occupied_at_its_midnight(
    api: Api, database: DatabaseUnderTest, dhaka: Site, moved_at: datetime, rates: list[str],
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            local(date(2025, 1, 10), 12, 0, DHAKA))
    await transfer(api, dhaka.nurse, admission["id"], dhaka.beds[1][0], moved_at)
    await discharge(api, dhaka.nurse, admission["id"], local(date(2025, 1, 12), 12, 0, DHAKA))
    found = await charges(database.admin_url, admission["id"])
    assert [(r["service_date"], str(r["rate"])) for r in found] == [
        (date(2025, 1, 10), rates[0]), (date(2025, 1, 11), rates[1])]
    assert [r["ward_id"] for r in found] == [
        uuid_of(dhaka.wards[0] if rate == "100.00" else dhaka.wards[1]) for rate in rates]


async def test_an_admission_spanning_no_midnight_bills_no_bed_day(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            local(date(2025, 1, 10), 0, 0, DHAKA))
    await transfer(api, dhaka.nurse, admission["id"], dhaka.beds[1][0],
                   local(date(2025, 1, 10), 9, 0, DHAKA))
    await discharge(api, dhaka.nurse, admission["id"],
                    local(date(2025, 1, 10), 23, 59, DHAKA))
    # A bed-day is a midnight census: a day case was never counted at one.
    assert await charges(database.admin_url, admission["id"]) == []


# -- idempotent, concurrent, incremental -------------------------------------------------------

async def admitted_for_days(api: Api, site: Site, count: int, since: datetime) -> list[str]:
    """`count` patients admitted (one a bed) at `since` plus one hour each."""
    beds = [bed for ward_beds in site.beds for bed in ward_beds]
    return [(await admit(api, site.nurse, await site.patient(), beds[n],
                         since + timedelta(hours=n)))["id"] for n in range(count)]


async def test_accruing_twice_changes_nothing(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    await admitted_for_days(api, dhaka, 3, local(date(2025, 1, 1), 10, 0, DHAKA))
    with freeze_time(local(date(2025, 1, 8), 9, 0, DHAKA), real_asyncio=True):
        first = await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 7))
        written = await facility_charges(database, dhaka)
        again = await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 7))
    assert first == {"facility": {"id": dhaka.facility}, "through": "2025-01-07",
                     "chargesCreated": 21, "amount": {"amount": "2100.00", "currency": "USD"},
                     "bedDays": 3}
    assert again == {**first, "chargesCreated": 0,
                     "amount": {"amount": "0.00", "currency": "USD"}}
    assert await facility_charges(database, dhaka) == written


async def test_two_concurrent_accruals_write_each_charge_once(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    await admitted_for_days(api, dhaka, 8, local(date(2025, 1, 1), 10, 0, DHAKA))
    with freeze_time(local(date(2025, 1, 11), 9, 0, DHAKA), real_asyncio=True):
        responses = await released_together(api, [
            (ACCRUE, accrual(dhaka.facility, date(2025, 1, 10)), dhaka.billing),
            (ACCRUE_WITH_INPUT, {"input": accrual(dhaka.facility, date(2025, 1, 10))},
             dhaka.kit.admin_token),
        ])
    assert outcomes(responses) == {"OK": 2}
    created = sorted(r.json()["data"]["accrueBedDays"]["chargesCreated"] for r in responses)
    assert created == [0, 80]
    written = await facility_charges(database, dhaka)
    assert len(written) == 80
    assert len({(r["admission_id"], r["service_date"]) for r in written}) == 80


async def test_a_nightly_run_adds_only_the_new_night(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admitted = await admitted_for_days(api, dhaka, 3, local(date(2025, 1, 1), 10, 0, DHAKA))
    with freeze_time(local(date(2025, 1, 5), 1, 0, DHAKA), real_asyncio=True):
        first = await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 4))
    await discharge(api, dhaka.nurse, admitted[0], local(date(2025, 1, 5), 9, 0, DHAKA))
    with freeze_time(local(date(2025, 1, 6), 1, 0, DHAKA), real_asyncio=True):
        nightly = await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 5))
    assert (first["chargesCreated"], nightly["chargesCreated"], nightly["bedDays"]) == (12, 2, 2)
    assert [await charged_dates(database.admin_url, a) for a in admitted] == [
        dates(date(2025, 1, 1), date(2025, 1, 4)),
        dates(date(2025, 1, 1), date(2025, 1, 5)), dates(date(2025, 1, 1), date(2025, 1, 5))]


async def test_a_back_dated_admission_is_charged_at_once_for_the_nights_already_accrued(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    with freeze_time(local(date(2025, 1, 10), 1, 0, DHAKA), real_asyncio=True):
        await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 9))
        late_entry = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                                 local(date(2025, 1, 6), 14, 0, DHAKA))
    assert await charged_dates(database.admin_url, late_entry["id"]) == dates(
        date(2025, 1, 6), date(2025, 1, 9))
    with freeze_time(local(date(2025, 1, 11), 1, 0, DHAKA), real_asyncio=True):
        nightly = await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 10))
    assert nightly["chargesCreated"] == 1
    assert await charged_dates(database.admin_url, late_entry["id"]) == dates(
        date(2025, 1, 6), date(2025, 1, 10))


async def test_a_back_dated_stay_behind_the_watermark_is_billed_at_its_ward_rate(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    with freeze_time(local(date(2025, 1, 10), 1, 0, DHAKA), real_asyncio=True):
        await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 9))
        # Entered late, with a transfer that also happened before the run.
        admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                                local(date(2025, 1, 3), 14, 0, DHAKA))
        await transfer(api, dhaka.nurse, admission["id"], dhaka.beds[1][0],
                       local(date(2025, 1, 6), 14, 0, DHAKA))
    with freeze_time(local(date(2025, 1, 11), 1, 0, DHAKA), real_asyncio=True):
        await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 10))
        await discharge(api, dhaka.nurse, admission["id"], local(date(2025, 1, 11), 0, 30, DHAKA))
    found = await charges(database.admin_url, admission["id"])
    assert [r["service_date"] for r in found] == dates(date(2025, 1, 3), date(2025, 1, 10))
    assert [str(r["rate"]) for r in found] == ["100.00"] * 3 + ["400.00"] * 5


async def test_discharge_finalises_the_charges_without_any_accrual(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            local(date(2025, 2, 1), 20, 0, DHAKA))
    discharged = local(date(2025, 2, 4), 11, 0, DHAKA)
    await discharge(api, dhaka.nurse, admission["id"], discharged)
    found = await charges(database.admin_url, admission["id"])
    assert [r["service_date"] for r in found] == dates(date(2025, 2, 1), date(2025, 2, 3))
    assert {r["accrued_at"] for r in found} == {discharged}
    watermarks = await admin_fetch(database.admin_url, """
        select * from app.bed_day_watermarks where facility_id = $1""",
        uuid_of(dhaka.facility))
    assert watermarks == []


async def test_a_charge_keeps_the_rate_of_the_ward_when_it_was_written(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            local(date(2025, 3, 1), 10, 0, DHAKA))
    with freeze_time(local(date(2025, 3, 2), 1, 0, DHAKA), real_asyncio=True):
        await accrue(api, dhaka.billing, dhaka.facility, date(2025, 3, 1))
    await admin_fetch(database.admin_url, "update app.wards set daily_rate = 125.50 where id = $1",
                      uuid_of(dhaka.wards[0]))
    with freeze_time(local(date(2025, 3, 3), 1, 0, DHAKA), real_asyncio=True):
        result = await accrue(api, dhaka.billing, dhaka.facility, date(2025, 3, 2))
    assert result["amount"] == {"amount": "125.50", "currency": "USD"}
    found = await charges(database.admin_url, admission["id"])
    assert [(r["service_date"], r["rate"]) for r in found] == [
        (date(2025, 3, 1), Decimal("100.00")), (date(2025, 3, 2), Decimal("125.50"))]


# -- the database holds the rules --------------------------------------------------------------

async def test_clinical_roles_cannot_read_charges(
    database: DatabaseUnderTest, dhaka: Site,
) -> None:
    for role in (Role.NURSE, Role.CLINICIAN):
        async with as_role(database.api_url, role, dhaka.kit.tenant_id,
                           (uuid_of(dhaka.facility),)) as connection:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.fetch("select * from app.bed_days")


async def test_accrual_in_sql_refuses_a_day_that_has_not_ended(
    database: DatabaseUnderTest, dhaka: Site,
) -> None:
    async with as_role(database.api_url, Role.BILLING, dhaka.kit.tenant_id,
                       (uuid_of(dhaka.facility),)) as connection:
        with pytest.raises(asyncpg.InvalidParameterValueError) as refused:
            await connection.fetch("select * from app.accrue_bed_days($1, $2, $3)",
                                   uuid_of(dhaka.facility), date(2025, 1, 31),
                                   datetime(2025, 1, 31, 17, 59, tzinfo=UTC))
    assert refused.value.constraint_name == "bed_days_through_has_ended"
