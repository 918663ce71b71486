"""Admission numbers <FACILITY CODE>-<YYYY>-<NNNNNN>: YYYY is the facility-local year at the
request's clock, the counter restarts at 1 each local year per facility, and numbers are unique
and gapless under concurrency (the app.admission_counters row, written only by the numbering
trigger in the admitting transaction; tests/test_bed_day_ledger.py proves no request role may
touch it)."""

from __future__ import annotations

from datetime import date, timedelta

import asyncpg
import pytest
from freezegun import freeze_time

from tests.admitting import ADMIT, admit, admit_input, outcomes, released_together
from tests.factories import TenantKit
from tests.harness import Api, DatabaseUnderTest
from tests.local_days import (
    MONTH_END,
    PERIOD_END_PARAMS,
    YEAR_END,
    ZONE_PARAMS,
    local,
    make_site,
    uuid_of,
    zone_code,
)
from tests.sql_roles import as_role
from wardgraph.auth.claims import Role

DAY = timedelta(days=1)


@pytest.mark.parametrize("period_end", PERIOD_END_PARAMS)
@pytest.mark.parametrize("zone", ZONE_PARAMS)
async def test_2330_local_numbers_in_that_year_and_0030_in_the_next_days_year(
    api: Api, tenant: TenantKit, zone: str, period_end: date,
) -> None:
    site = await make_site(tenant, zone_code(zone), zone, beds_per_ward=3)
    code = zone_code(zone)
    numbers = []
    for moment, bed in ((local(period_end, 23, 30, zone), site.beds[0][0]),
                        (local(period_end + DAY, 0, 30, zone), site.beds[0][1]),
                        (local(period_end + DAY, 0, 40, zone), site.beds[0][2])):
        patient = await site.patient()
        with freeze_time(moment, real_asyncio=True):  # admitted at the request's clock
            numbers.append((await admit(api, site.nurse, patient, bed))["number"])
    if period_end == YEAR_END:
        assert numbers == [f"{code}-2024-000001", f"{code}-2025-000001", f"{code}-2025-000002"]
    else:
        assert period_end == MONTH_END
        assert numbers == [f"{code}-2025-000001", f"{code}-2025-000002", f"{code}-2025-000003"]


async def test_each_facility_counts_its_own_local_year(api: Api, tenant: TenantKit) -> None:
    # 23:30 on 31 December in Kathmandu is 17:45 UTC, already 1 January in Chatham.
    kathmandu = await make_site(tenant, "KTM", "Asia/Kathmandu")
    chatham = await make_site(tenant, "CHT", "Pacific/Chatham")
    moment = local(YEAR_END, 23, 30, "Asia/Kathmandu")
    with freeze_time(moment, real_asyncio=True):
        first = await admit(api, kathmandu.nurse, await kathmandu.patient(),
                            kathmandu.beds[0][0])
        second = await admit(api, chatham.nurse, await chatham.patient(), chatham.beds[0][0])
    assert (first["number"], second["number"]) == ("KTM-2024-000001", "CHT-2025-000001")


async def test_50_concurrent_admissions_in_one_facility_get_50_consecutive_numbers(
    api: Api, tenant: TenantKit,
) -> None:
    site = await make_site(tenant, "CONC", "Asia/Dhaka", beds_per_ward=50)
    patients = [await site.patient() for _ in range(50)]
    with freeze_time(local(date(2025, 6, 1), 12, 0, "Asia/Dhaka"), real_asyncio=True):
        responses = await released_together(api, [
            (ADMIT, admit_input(patient, bed), site.nurse)
            for patient, bed in zip(patients, site.beds[0], strict=True)])
    assert outcomes(responses) == {"OK": 50}
    numbers = sorted(r.json()["data"]["admitPatient"]["number"] for r in responses)
    assert numbers == [f"CONC-2025-{n:06d}" for n in range(1, 51)]


async def test_a_refused_admission_does_not_consume_a_number_even_when_racing(
    api: Api, tenant: TenantKit,
) -> None:
    site = await make_site(tenant, "RACE", "Asia/Dhaka", beds_per_ward=2)
    patients = [await site.patient() for _ in range(10)]
    with freeze_time(local(date(2025, 6, 1), 12, 0, "Asia/Dhaka"), real_asyncio=True):
        responses = await released_together(api, [
            (ADMIT, admit_input(patient, site.beds[0][0]), site.nurse) for patient in patients])
        after = await admit(api, site.nurse, await site.patient(), site.beds[0][1])
    assert outcomes(responses) == {"OK": 1, "BED_OCCUPIED": 9}
    [winner] = [r.json()["data"]["admitPatient"] for r in responses
                if not r.json().get("errors")]
    assert (winner["number"], after["number"]) == ("RACE-2025-000001", "RACE-2025-000002")


async def test_an_admission_refused_by_sql_burns_no_number_of_any_tenant(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, other_tenant: TenantKit,
) -> None:
    # A nurse writing an admission for another tenant's facility by SQL: refused before that
    # tenant's counter is touched, and nothing is left behind in either tenant.
    site = await make_site(tenant, "SQLN", "Asia/Dhaka")
    theirs = await make_site(other_tenant, "THRS", "Asia/Dhaka")
    patient = await site.patient()
    async with as_role(database.api_url, Role.NURSE, tenant.tenant_id,
                       (uuid_of(site.facility),)) as connection:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await connection.execute("""
                insert into app.admissions (tenant_id, facility_id, patient_id, bed_id,
                                            admitted_at)
                values ($1, $2, $3, $4, now())""", other_tenant.tenant_id,
                uuid_of(theirs.facility), uuid_of(patient), uuid_of(theirs.beds[0][0]))
    with freeze_time(local(date(2025, 6, 1), 12, 0, "Asia/Dhaka"), real_asyncio=True):
        mine = await admit(api, site.nurse, patient, site.beds[0][0])
        next_there = await admit(api, theirs.nurse, await theirs.patient(), theirs.beds[0][0])
    assert (mine["number"], next_there["number"]) == ("SQLN-2025-000001", "THRS-2025-000001")
