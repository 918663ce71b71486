"""The bed-day ledger: charges are only appended, a back-dated discharge or transfer appends
reversals that cite what they cancel, one charge per local census instant, and no request role
writes a charge, a watermark or a counter by SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from freezegun import freeze_time

from tests.admitting import admit
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.local_days import (
    DAY,
    DHAKA,
    Site,
    accrue,
    charges,
    dhaka_site,
    discharge,
    ledger,
    local,
    make_site,
    report,
    transfer,
    uuid_of,
)
from tests.sql_roles import as_role
from wardgraph.auth.claims import Role

LONDON = "Europe/London"
APIA = "Pacific/Apia"
ST_JOHNS = "America/St_Johns"


@pytest.fixture
async def dhaka(tenant: TenantKit) -> Site:
    return await dhaka_site(tenant)


def dates(first: date, last: date) -> list[date]:
    return [first + DAY * n for n in range((last - first).days + 1)]


def shape(rows: list[asyncpg.Record]) -> list[tuple[Any, ...]]:
    """(date, entry, rate, reason) of each ledger row."""
    return [(r["service_date"], r["entry"], r["rate"], r["reason"]) for r in rows]


# -- corrections are reversals -----------------------------------------------------------------

async def test_a_back_dated_discharge_after_an_accrual_reverses_the_nights_after_it(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit,
) -> None:
    site = await make_site(tenant, "LDN", LONDON, ("106.25",))
    with freeze_time(datetime(2026, 6, 1, 9, tzinfo=UTC), real_asyncio=True):
        admission = await admit(api, site.nurse, await site.patient(), site.beds[0][0],
                                local(date(2026, 5, 10), 12, 0, LONDON))
        await accrue(api, site.billing, site.facility, date(2026, 5, 31))
        await discharge(api, site.nurse, admission["id"], local(date(2026, 5, 30), 0, 0, LONDON))
        again = await accrue(api, site.billing, site.facility, date(2026, 5, 31))
        rows = await report(api, site.billing, site.facility, date(2026, 5, 28),
                            date(2026, 5, 31))
    assert [r["service_date"] for r in await charges(database.admin_url, admission["id"])] == (
        dates(date(2026, 5, 10), date(2026, 5, 29)))
    written = await ledger(database.admin_url, admission["id"])
    assert shape(written[-4:]) == [
        (date(2026, 5, 30), "charge", Decimal("106.25"), None),
        (date(2026, 5, 30), "reversal", Decimal("106.25"), "discharge_backdated"),
        (date(2026, 5, 31), "charge", Decimal("106.25"), None),
        (date(2026, 5, 31), "reversal", Decimal("106.25"), "discharge_backdated")]
    assert written[-1]["reverses_id"] == written[-2]["id"]
    assert again["chargesCreated"] == 0
    assert [(r["census"], r["bedDays"], r["revenue"]["amount"]) for r in rows] == [
        (1, 1, "106.25"), (1, 1, "106.25"), (0, 0, "0.00"), (0, 0, "0.00")]


async def test_a_back_dated_transfer_moves_the_accrued_nights_to_the_new_wards_rate(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            local(date(2025, 1, 1), 10, 0, DHAKA))
    with freeze_time(local(date(2025, 1, 6), 1, 0, DHAKA), real_asyncio=True):
        await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 5))
        await transfer(api, dhaka.nurse, admission["id"], dhaka.beds[1][0],
                       local(date(2025, 1, 3), 12, 0, DHAKA))
        again = await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 5))
    standing = await charges(database.admin_url, admission["id"])
    assert [(r["service_date"], str(r["rate"])) for r in standing] == [
        (date(2025, 1, 1), "100.00"), (date(2025, 1, 2), "100.00"), (date(2025, 1, 3), "400.00"),
        (date(2025, 1, 4), "400.00"), (date(2025, 1, 5), "400.00")]
    written = await ledger(database.admin_url, admission["id"])
    reversals = [r for r in written if r["entry"] == "reversal"]
    assert [(r["service_date"], r["reason"], r["ward"]) for r in reversals] == [
        (day, "transfer_backdated", "Ward 1") for day in dates(date(2025, 1, 3), date(2025, 1, 5))]
    # Each new charge takes the slot its reversal freed.
    assert {r["follows_id"] for r in written if r["entry"] == "charge" and r["ward"] == "Ward 2"
            } == {r["id"] for r in reversals}
    assert again["chargesCreated"] == 0


async def test_a_discharge_at_the_accrued_nights_changes_nothing(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            local(date(2025, 1, 1), 10, 0, DHAKA))
    with freeze_time(local(date(2025, 1, 4), 9, 0, DHAKA), real_asyncio=True):
        await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 3))
        before = await ledger(database.admin_url, admission["id"])
        await discharge(api, dhaka.nurse, admission["id"], local(date(2025, 1, 4), 8, 0, DHAKA))
    assert await ledger(database.admin_url, admission["id"]) == before


# -- one charge per census instant -------------------------------------------------------------

async def test_apia_bills_the_night_across_its_skipped_date_once(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit,
) -> None:
    # 2011-12-29 23:59:59 (-10:00) was followed by 2011-12-31 00:00 (+14:00).
    site = await make_site(tenant, "APW", APIA)
    admission = await admit(api, site.nurse, await site.patient(), site.beds[0][0],
                            local(date(2011, 12, 29), 12, 0, APIA))
    await discharge(api, site.nurse, admission["id"], local(date(2011, 12, 31), 12, 0, APIA))
    standing = await charges(database.admin_url, admission["id"])
    assert [(r["service_date"], r["census_at"]) for r in standing] == [
        (date(2011, 12, 29), datetime(2011, 12, 30, 10, tzinfo=UTC))]
    rows = await report(api, site.billing, site.facility, date(2011, 12, 29),
                        date(2011, 12, 31))
    assert [(r["date"], r["census"], r["bedDays"]) for r in rows] == [
        ("2011-12-29", 1, 1), ("2011-12-30", None, 0), ("2011-12-31", 0, 0)]


async def test_st_johns_bills_a_midnight_that_came_twice_once(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit,
) -> None:
    # 7 November 2010: local midnight at 02:30 UTC, and again at 03:30 UTC.
    site = await make_site(tenant, "SJW", ST_JOHNS)
    admission = await admit(api, site.nurse, await site.patient(), site.beds[0][0],
                            datetime(2010, 11, 6, 20, tzinfo=UTC))
    await discharge(api, site.nurse, admission["id"], datetime(2010, 11, 7, 20, tzinfo=UTC))
    standing = await charges(database.admin_url, admission["id"])
    assert [(r["service_date"], r["census_at"]) for r in standing] == [
        (date(2010, 11, 6), datetime(2010, 11, 7, 2, 30, tzinfo=UTC))]


# -- the database holds the ledger's rules, whoever writes -------------------------------------

async def discharged_admission(api: Api, site: Site) -> dict[str, Any]:
    """An admission of three nights (1-3 January 2025), discharged."""
    admission = await admit(api, site.nurse, await site.patient(), site.beds[0][0],
                            local(date(2025, 1, 1), 10, 0, DHAKA))
    await discharge(api, site.nurse, admission["id"], local(date(2025, 1, 4), 10, 0, DHAKA))
    return admission


COPY_ROW = """
insert into app.bed_days (tenant_id, admission_id, facility_id, ward_id, bed_id, service_date,
                          census_at, rate, currency, accrued_at, reverses_id, reason, follows_id)
select tenant_id, admission_id, facility_id, ward_id, bed_id, service_date + $2::int,
       census_at + make_interval(days => $3::int), rate + $4, currency, accrued_at,
       {reverses}, {reason}, {follows}
from app.bed_days where id = $1"""


@pytest.mark.parametrize(("reverses", "days", "shift", "extra", "constraint"), [
    pytest.param(False, 0, 1, "0", "bed_days_first_charge_per_day",
                 id="a-second-charge-for-a-date"),
    pytest.param(False, 1, 0, "0", "bed_days_first_charge_per_census",
                 id="a-second-charge-for-a-census-instant"),
    pytest.param(True, 0, 0, "1", "bed_days_reverses_a_charge",
                 id="a-reversal-at-another-rate"),
])
async def test_the_ledger_constraints_refuse_even_the_superuser(
    api: Api, database: DatabaseUnderTest, dhaka: Site, reverses: bool, days: int, shift: int,
    extra: str, constraint: str,
) -> None:
    admission = await discharged_admission(api, dhaka)
    last = (await ledger(database.admin_url, admission["id"]))[-1]
    statement = COPY_ROW.format(reverses="id" if reverses else "null",
                                reason="'discharge_backdated'" if reverses else "null",
                                follows="null")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError) as refused:
        await admin_fetch(database.admin_url, statement, last["id"], days, shift,
                          Decimal(extra))
    assert refused.value.constraint_name == constraint


async def test_a_charge_is_reversed_once_and_its_slot_reopened_once(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            local(date(2025, 1, 1), 10, 0, DHAKA))
    with freeze_time(local(date(2025, 1, 4), 1, 0, DHAKA), real_asyncio=True):
        await accrue(api, dhaka.billing, dhaka.facility, date(2025, 1, 3))
        await discharge(api, dhaka.nurse, admission["id"], local(date(2025, 1, 3), 10, 0, DHAKA))
    reversal = next(r for r in await ledger(database.admin_url, admission["id"])
                    if r["entry"] == "reversal")
    again = COPY_ROW.format(reverses="reverses_id", reason="reason", follows="null")
    with pytest.raises(asyncpg.UniqueViolationError) as refused:
        await admin_fetch(database.admin_url, again, reversal["id"], 0, 0, Decimal(0))
    assert refused.value.constraint_name == "bed_days_reversed_once"
    # The freed slot takes one new charge (the superuser's: billing verify would flag it), and
    # not a second one.
    recharge = COPY_ROW.format(reverses="null", reason="null", follows="id")
    await admin_fetch(database.admin_url, recharge, reversal["id"], 0, 0, Decimal(0))
    with pytest.raises(asyncpg.UniqueViolationError) as refused:
        await admin_fetch(database.admin_url, recharge, reversal["id"], 0, 0, Decimal(0))
    assert refused.value.constraint_name == "bed_days_slot_reopened_once"


@pytest.mark.parametrize("statement", [
    pytest.param("update app.bed_days set rate = 0 where admission_id = $1", id="update"),
    pytest.param("delete from app.bed_days where admission_id = $1", id="delete"),
    pytest.param("truncate app.bed_days", id="truncate"),
])
async def test_the_ledger_refuses_update_and_delete_even_for_the_superuser(
    api: Api, database: DatabaseUnderTest, dhaka: Site, statement: str,
) -> None:
    admission = await discharged_admission(api, dhaka)
    arguments = [uuid_of(admission["id"])] if "$1" in statement else []
    with pytest.raises(asyncpg.InsufficientPrivilegeError) as refused:
        await admin_fetch(database.admin_url, statement, *arguments)
    assert refused.value.constraint_name == "bed_days_append_only"
    assert len(await charges(database.admin_url, admission["id"])) == 3


WRITES = {
    "app.bed_days": [
        """insert into app.bed_days (tenant_id, admission_id, facility_id, ward_id, bed_id,
               service_date, census_at, rate, currency, accrued_at)
           select tenant_id, admission_id, facility_id, ward_id, bed_id, service_date + 10,
                  census_at + interval '10 days', rate, currency, now()
           from app.bed_days limit 1""",
        "update app.bed_days set rate = 0",
        "delete from app.bed_days",
    ],
    "app.bed_day_watermarks": [
        "insert into app.bed_day_watermarks (tenant_id, facility_id, accrued_through) "
        "values (app.current_tenant_id(), (app.current_facility_ids())[1], '2099-01-01')",
        "update app.bed_day_watermarks set accrued_through = '2099-01-01'",
        "delete from app.bed_day_watermarks",
    ],
    "app.admission_counters": [
        "select * from app.admission_counters",
        "insert into app.admission_counters (tenant_id, facility_id, year, last_number) "
        "values (app.current_tenant_id(), (app.current_facility_ids())[1], 2025, 41)",
        "update app.admission_counters set last_number = last_number - 1",
        "delete from app.admission_counters",
    ],
}
WRITE_PARAMS = [pytest.param(table, sql, id=f"{table}-{sql.split()[0]}")
                for table, statements in WRITES.items() for sql in statements]


@pytest.mark.parametrize(("table", "sql"), WRITE_PARAMS)
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
async def test_no_request_role_writes_the_ledger_the_watermarks_or_the_counters(
    api: Api, database: DatabaseUnderTest, dhaka: Site, role: Role, table: str, sql: str,
) -> None:
    await discharged_admission(api, dhaka)
    async with as_role(database.api_url, role, dhaka.kit.tenant_id, (uuid_of(dhaka.facility),),
                       scopes=("billing:read", "admissions:read")) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await connection.execute(sql)


async def test_only_the_ledger_writer_holds_a_write_privilege_on_money_or_counters(
    database: DatabaseUnderTest,
) -> None:
    # Every role of the cluster but the superusers, as the catalog has it.
    found = await admin_fetch(database.admin_url, """
        select r.rolname as role, t.name as table_name, c.command
        from pg_roles r
        cross join unnest(array['app.bed_days', 'app.bed_day_watermarks',
                                'app.admission_counters']) as t (name)
        cross join unnest(array['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) as c (command)
        where not r.rolsuper and r.rolname not like 'pg\\_%'
          and has_table_privilege(r.oid, t.name::regclass, c.command)
        order by 1, 2, 3""")
    assert sorted({(r["role"], r["table_name"], r["command"]) for r in found}) == [
        ("wg_ledger_writer", "app.admission_counters", "INSERT"),
        ("wg_ledger_writer", "app.admission_counters", "UPDATE"),
        ("wg_ledger_writer", "app.bed_day_watermarks", "INSERT"),
        ("wg_ledger_writer", "app.bed_day_watermarks", "UPDATE"),
        ("wg_ledger_writer", "app.bed_days", "INSERT"),
    ]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BILLING, Role.NURSE],
                         ids=lambda r: r.value)
async def test_no_request_role_calls_the_reconciling_function_itself(
    api: Api, database: DatabaseUnderTest, dhaka: Site, role: Role,
) -> None:
    admission = await discharged_admission(api, dhaka)
    async with as_role(database.api_url, role, dhaka.kit.tenant_id,
                       (uuid_of(dhaka.facility),)) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await connection.execute(
                "select app.reconcile_bed_days($1, $2, now(), now(), null)",
                dhaka.kit.tenant_id, uuid_of(admission["id"]))


async def test_the_ledger_functions_run_as_the_ledger_writer_with_a_pinned_search_path(
    database: DatabaseUnderTest,
) -> None:
    found = await admin_fetch(database.admin_url, """
        select p.proname, pg_get_userbyid(p.proowner) as owner, p.prosecdef, p.proconfig
        from pg_proc p
        where p.pronamespace = 'app'::regnamespace
          and pg_get_userbyid(p.proowner) = 'wg_ledger_writer' and p.prosecdef
        order by 1""")
    assert [r["proname"] for r in found] == [
        "accrue_bed_days", "assign_admission_number", "reconcile_bed_days",
        "reconcile_bed_days_on_discharge", "reconcile_bed_days_on_transfer",
        "reconcile_bed_days_on_undo"]
    assert {tuple(r["proconfig"]) for r in found} == {("search_path=pg_catalog, pg_temp",)}


async def test_accrual_in_sql_acts_only_for_a_facility_of_the_billing_callers_claims(
    database: DatabaseUnderTest, dhaka: Site,
) -> None:
    elsewhere = await dhaka.kit.facility("CGP", DHAKA)
    async with as_role(database.api_url, Role.BILLING, dhaka.kit.tenant_id,
                       (uuid_of(dhaka.facility),)) as connection:
        with pytest.raises(asyncpg.ForeignKeyViolationError) as refused:
            await connection.fetch("select * from app.accrue_bed_days($1, $2, $3)",
                                   uuid_of(elsewhere), date(2025, 1, 1),
                                   datetime(2025, 1, 2, tzinfo=UTC))
    assert refused.value.constraint_name == "bed_days_facility_visible"
