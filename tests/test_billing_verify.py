"""`wardgraph billing verify`: recomputes each admission's net charges from its stays, through
the CLI as an operator runs it, and names the first difference a tampered ledger holds."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from freezegun import freeze_time

from tests.admitting import admit
from tests.factories import TenantKit
from tests.harness import Api, DatabaseUnderTest
from tests.local_days import DHAKA, Site, accrue, dhaka_site, discharge, local, uuid_of
from wardgraph.ops.billing_verify import nights_of


def billing_verify(database: DatabaseUnderTest, *args: str,
                   admin_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WARDGRAPH_DATABASE_URL": database.api_url,
           "WARDGRAPH_ADMIN_DATABASE_URL": admin_url or database.admin_url}
    return subprocess.run([sys.executable, "-m", "wardgraph.ops.cli", "billing", "verify", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


async def tamper(database: DatabaseUnderTest, statement: str, *args: Any) -> None:
    """As a superuser with triggers off for the transaction (replica mode): what a DBA could
    do, the ledger's append-only trigger included."""
    connection = await asyncpg.connect(database.admin_url)
    try:
        async with connection.transaction():
            await connection.execute("set local session_replication_role = replica")
            await connection.execute(statement, *args)
    finally:
        await connection.close()


@pytest.fixture
async def billed(api: Api, tenant: TenantKit) -> tuple[Site, list[dict[str, Any]]]:
    """Two admissions at Dhaka (100.00 and 400.00 a day): the first discharged back-dated after
    an accrual (three nights stand, two reversed), the second still in, accrued four nights."""
    site = await dhaka_site(tenant)
    first = await admit(api, site.nurse, await site.patient(), site.beds[0][0],
                        local(date(2025, 1, 1), 10, 0, DHAKA))
    second = await admit(api, site.nurse, await site.patient(), site.beds[1][0],
                         local(date(2025, 1, 2), 12, 0, DHAKA))
    with freeze_time(local(date(2025, 1, 6), 1, 0, DHAKA), real_asyncio=True):
        await accrue(api, site.billing, site.facility, date(2025, 1, 5))
        await discharge(api, site.nurse, first["id"], local(date(2025, 1, 4), 8, 0, DHAKA))
    return site, [first, second]


async def test_a_ledger_that_matches_its_stays_verifies_and_exits_0(
    database: DatabaseUnderTest, billed: tuple[Site, list[dict[str, Any]]],
) -> None:
    site, _ = billed
    result = billing_verify(database, "--tenant", site.kit.slug)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"{site.kit.slug}: matches, 2 admissions, 7 net bed-days, 1900.00 charged",
        "1 tenant(s) verified, 0 differ"]


@pytest.mark.parametrize(("statement", "admission", "difference"), [
    pytest.param(
        """insert into app.bed_days (tenant_id, admission_id, facility_id, ward_id, bed_id,
                                     service_date, census_at, rate, currency, accrued_at)
           select tenant_id, admission_id, facility_id, ward_id, bed_id, '2025-01-10',
                  '2025-01-10 18:00Z', rate, currency, now()
           from app.bed_days where admission_id = $1 limit 1""", 0,
        "2025-01-10 is charged but no stay spans its census instant "
        "(2025-01-10T18:00:00+00:00)", id="a-charge-no-stay-produced"),
    pytest.param("delete from app.bed_days where admission_id = $1 "
                 "and service_date = '2025-01-03'", 1,
                 "2025-01-03 is spanned by a stay but not charged", id="a-charge-deleted"),
    pytest.param("delete from app.bed_days where admission_id = $1 and reverses_id is not null "
                 "and service_date = '2025-01-04'", 0,
                 "2025-01-04 is charged but no stay spans its census instant "
                 "(2025-01-04T18:00:00+00:00)", id="a-reversal-deleted"),
    pytest.param("update app.bed_days set currency = 'EUR' where admission_id = $1 "
                 "and service_date = '2025-01-02'", 1,
                 "2025-01-02 is charged in EUR, the facility bills in USD",
                 id="a-charge-altered"),
])
async def test_a_tampered_ledger_is_named_at_its_first_difference_and_exits_1(
    database: DatabaseUnderTest, billed: tuple[Site, list[dict[str, Any]]], statement: str,
    admission: int, difference: str,
) -> None:
    site, admissions = billed
    await tamper(database, statement, uuid_of(admissions[admission]["id"]))
    result = billing_verify(database, "--tenant", site.kit.slug)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        f"{site.kit.slug}: DIFFERS at admission {admissions[admission]['number']}: "
        f"{difference}",
        "1 tenant(s) verified, 1 differ"]


async def test_a_charge_moved_to_another_bed_is_found(
    database: DatabaseUnderTest, billed: tuple[Site, list[dict[str, Any]]],
) -> None:
    site, admissions = billed
    other_bed = uuid_of(site.beds[1][1])
    await tamper(database, "update app.bed_days set bed_id = $2 where admission_id = $1 "
                 "and service_date = '2025-01-05'", uuid_of(admissions[1]["id"]), other_bed)
    result = billing_verify(database, "--tenant", site.kit.slug)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        f"{site.kit.slug}: DIFFERS at admission {admissions[1]['number']}: 2025-01-05 is "
        f"charged at ward {uuid_of(site.wards[1])} bed {other_bed}, but the stay was in ward "
        f"{uuid_of(site.wards[1])} bed {uuid_of(site.beds[1][0])}")


async def test_verify_of_every_tenant_names_only_the_tampered_one(
    database: DatabaseUnderTest, billed: tuple[Site, list[dict[str, Any]]],
    other_tenant: TenantKit,
) -> None:
    site, admissions = billed
    await tamper(database, "delete from app.bed_days where admission_id = $1",
                 uuid_of(admissions[1]["id"]))
    result = billing_verify(database)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line for line in lines if line.startswith(f"{site.kit.slug}: ")] == [
        f"{site.kit.slug}: DIFFERS at admission {admissions[1]['number']}: 2025-01-02 is "
        "spanned by a stay but not charged"]
    assert [line for line in lines if line.startswith(f"{other_tenant.slug}: ")] == [
        f"{other_tenant.slug}: matches, 0 admissions, 0 net bed-days, 0 charged"]


async def test_verify_refuses_a_role_that_cannot_read_every_tenant(
    database: DatabaseUnderTest, tenant: TenantKit,
) -> None:
    result = billing_verify(database, "--tenant", tenant.slug, admin_url=database.api_url)
    assert result.returncode == 2
    assert "does not bypass row security" in result.stderr
    assert "Traceback" not in result.stderr


async def test_verify_of_an_unknown_tenant_exits_2(database: DatabaseUnderTest) -> None:
    result = billing_verify(database, "--tenant", "no-such-tenant")
    assert (result.returncode, result.stderr) == (2, "wardgraph: no tenant 'no-such-tenant'\n")


def test_verify_reckons_apias_skipped_date_as_no_night() -> None:
    zone = ZoneInfo("Pacific/Apia")
    nights = list(nights_of(datetime(2011, 12, 29, 22, tzinfo=UTC),
                            datetime(2011, 12, 31, 22, tzinfo=UTC), zone))
    assert nights == [(date(2011, 12, 29), datetime(2011, 12, 30, 10, tzinfo=UTC)),
                      (date(2011, 12, 31), datetime(2011, 12, 31, 10, tzinfo=UTC))]
