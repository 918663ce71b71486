"""Migrations: twice is a no-op; down to base and up again works; so does the ledger."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.factories import admin_fetch
from wardgraph.migrations import runner


async def catalog_fingerprint(url: str) -> list[tuple[object, ...]]:
    """Policy and grant objects with their oids: re-created objects get new oids."""
    rows = await admin_fetch(url, """
        select 'policy', p.oid::text, p.polname from pg_policy p
        union all
        select 'table', c.oid::text, c.relname || coalesce(c.relacl::text, '')
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname in ('app', 'platform')
        union all
        select 'version', version_num, '' from alembic_version
        order by 1, 2, 3""")
    return [tuple(r) for r in rows]


async def test_migrating_twice_changes_nothing(scratch_url: str) -> None:
    await asyncio.to_thread(runner.upgrade, scratch_url)
    before = await catalog_fingerprint(scratch_url)
    await asyncio.to_thread(runner.upgrade, scratch_url)
    assert await catalog_fingerprint(scratch_url) == before


async def test_downgrade_to_base_and_up_again(scratch_url: str) -> None:
    await asyncio.to_thread(runner.upgrade, scratch_url)
    await asyncio.to_thread(runner.downgrade, scratch_url, "base")
    schemas = await admin_fetch(scratch_url, """
        select nspname from pg_namespace where nspname in ('app', 'platform', 'auth')""")
    assert schemas == []
    await asyncio.to_thread(runner.upgrade, scratch_url)
    tables = await admin_fetch(scratch_url, """
        select count(*) as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app' and c.relkind = 'r'""")
    assert tables[0]["n"] >= 10
    policies = await admin_fetch(scratch_url, "select count(*) as n from pg_policies")
    assert policies[0]["n"] > 30


async def test_a_changed_policy_file_is_reapplied_on_the_next_migrate(
    scratch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wardgraph import policies
    from wardgraph.migrations import apply, stamp

    await asyncio.to_thread(runner.upgrade, scratch_url)
    original = policies.read_policy

    def with_extra_comment(name: str) -> str:
        text = original(name)
        if name == "wards.sql":
            text += "\ncomment on table app.wards is 'changed by a later release';\n"
        return text

    monkeypatch.setattr(policies, "read_policy", with_extra_comment)
    monkeypatch.setattr(apply, "read_policy", with_extra_comment)
    monkeypatch.setattr(stamp, "read_policy", with_extra_comment)
    await asyncio.to_thread(runner.upgrade, scratch_url)
    rows = await admin_fetch(scratch_url, "select obj_description('app.wards'::regclass) as c")
    assert rows[0]["c"] == "changed by a later release"


# One admission of four nights at Dhaka, entered and discharged by the superuser (so the
# discharge writes its charges), and a reversal of its last night.
LEDGER_HISTORY = """
insert into platform.tenants (tenant_id, slug, name)
values ('00000000-0000-0000-0000-000000000001', 'ledger-down', 'Ledger down');
insert into app.facilities (tenant_id, id, code, name, timezone)
values ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000f1', 'LD',
        'Ledger down', 'Asia/Dhaka');
insert into app.wards (tenant_id, id, facility_id, name, daily_rate)
values ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000a1',
        '00000000-0000-0000-0000-0000000000f1', 'Ward', 100);
insert into app.beds (tenant_id, id, facility_id, ward_id, label)
values ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000b1',
        '00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000a1', 'B1');
insert into app.patients (tenant_id, id, facility_id, mrn, given_name, family_name, birth_date)
values ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000c1',
        '00000000-0000-0000-0000-0000000000f1', 'M1', 'Ada', 'Lovelace', '1970-01-01');
insert into app.admissions (tenant_id, id, facility_id, patient_id, bed_id, admitted_at)
values ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000d1',
        '00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000c1',
        '00000000-0000-0000-0000-0000000000b1', '2025-01-01 04:00Z');
insert into app.bed_stays (tenant_id, admission_id, facility_id, patient_id, ward_id, bed_id,
                           started_at)
values ('00000000-0000-0000-0000-000000000001', '00000000-0000-0000-0000-0000000000d1',
        '00000000-0000-0000-0000-0000000000f1', '00000000-0000-0000-0000-0000000000c1',
        '00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b1',
        '2025-01-01 04:00Z');
update app.admissions set status = 'DISCHARGED', discharged_at = '2025-01-05 04:00Z';
update app.bed_stays set ended_at = '2025-01-05 04:00Z';
insert into app.bed_days (tenant_id, admission_id, facility_id, ward_id, bed_id, service_date,
                          census_at, rate, currency, accrued_at, reverses_id, reason)
select tenant_id, admission_id, facility_id, ward_id, bed_id, service_date, census_at, rate,
       currency, now(), id, 'discharge_backdated'
from app.bed_days where service_date = '2025-01-04';
"""


async def test_the_ledger_migrates_down_to_one_row_a_night_and_up_again(
    scratch_url: str,
) -> None:
    await asyncio.to_thread(runner.upgrade, scratch_url)
    connection = await asyncpg.connect(scratch_url)
    try:
        await connection.execute(LEDGER_HISTORY)  # several statements: the simple protocol
    finally:
        await connection.close()
    await asyncio.to_thread(runner.downgrade, scratch_url, "0006_admitted_facilities")
    # A reversed charge and its reversal net to nothing: both go, the nights that stand stay.
    down = await admin_fetch(scratch_url, "select service_date from app.bed_days order by 1")
    assert [r["service_date"].isoformat() for r in down] == [
        "2025-01-01", "2025-01-02", "2025-01-03"]
    await asyncio.to_thread(runner.upgrade, scratch_url)
    up = await admin_fetch(scratch_url, """
        select service_date, census_at at time zone 'Asia/Dhaka' as census, units
        from app.bed_days order by 1""")
    assert [(r["service_date"].isoformat(), r["census"].isoformat(), r["units"]) for r in up] == [
        ("2025-01-01", "2025-01-02T00:00:00", 1), ("2025-01-02", "2025-01-03T00:00:00", 1),
        ("2025-01-03", "2025-01-04T00:00:00", 1)]
