"""Bed-day accrual: 100,000 bed stays over 30 days, charged by app.accrue_bed_days().

Run from the repository root: ``python bench/accrual.py``. It starts its own embedded
PostgreSQL, migrates it, and loads two facilities (Asia/Dhaka, and America/New_York across its
spring-forward night) with 2,500 beds each. Every bed holds 20 admissions one after another,
each of one stay of about a day and a half, written with set-based SQL (generate_series), the
last of each bed still open on every other bed: 100,000 stays. The load runs as a restore
would, with triggers and foreign-key checks off, so the numbers are written here as the
numbering trigger would write them and the discharges charge nothing: every charge is the
accrual's.

Then, as the billing role of each facility under its row-level security, one statement per
facility, the two facilities side by side on two connections:
  1. the first accrual, through the last date whose midnight has passed;
  2. the same accrual again (idempotent: writes nothing);
  3. the next night's accrual (incremental: only the new night);
and, for scale, the 30-day daily report of each facility. Prints rows written, rows per second
and times; asserts no timing. The server and its folder are removed at the end.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

# Allow running as a script from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.harness import start_embedded_for_tests
from wardgraph.auth.claims import Claims, Role
from wardgraph.db.session import SET_CLAIMS, claim_values

FACILITIES = (("DAC", "Asia/Dhaka"), ("NYC", "America/New_York"))
WARDS = 10
BEDS_PER_WARD = 250
ADMISSIONS_PER_BED = 20
START = datetime(2025, 2, 20, tzinfo=UTC)
DAYS = 30

# The load, one statement a step: (SQL, the parameters it takes).
LOAD: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("set local session_replication_role = replica", ()),
    ("insert into platform.tenants (tenant_id, slug, name) values ($1, 'bench-accrual', 'Bench')",
     ("tenant",)),
    ("""
insert into app.facilities (tenant_id, code, name, timezone)
select $1, code, 'Facility ' || code, zone
from unnest($2::text[], $3::text[]) as f (code, zone)""", ("tenant", "codes", "zones")),
    ("""
insert into app.wards (tenant_id, facility_id, name, daily_rate)
select f.tenant_id, f.id, 'Ward ' || w, 100 + 25 * w
from app.facilities f cross join generate_series(1, $2::integer) as w
where f.tenant_id = $1""", ("tenant", "wards")),
    ("""
insert into app.beds (tenant_id, facility_id, ward_id, label)
select w.tenant_id, w.facility_id, w.id, 'B-' || b
from app.wards w cross join generate_series(1, $2::integer) as b
where w.tenant_id = $1""", ("tenant", "beds")),
    # One patient per bed: a bed's admissions are one patient's, one after another.
    ("""
insert into app.patients (tenant_id, facility_id, mrn, given_name, family_name, birth_date)
select b.tenant_id, b.facility_id, 'BENCH-' || row_number() over (), 'Bench', 'Patient',
       date '1960-01-01'
from app.beds b where b.tenant_id = $1""", ("tenant",)),
    ("""
create temporary table lanes on commit drop as
select b.lane, b.tenant_id, b.facility_id, b.ward_id, b.id as bed_id, p.id as patient_id
from (select b.*, row_number() over (order by b.facility_id, b.ward_id, b.label) as lane,
             row_number() over (partition by b.facility_id order by b.ward_id, b.label) as n
      from app.beds b where b.tenant_id = $1) b
join (select p.*, row_number() over (partition by p.facility_id order by p.mrn) as n
      from app.patients p where p.tenant_id = $1) p
  on p.facility_id = b.facility_id and p.n = b.n""", ("tenant",)),
    # Admission k of a bed starts about 36 hours after admission k - 1 (give or take 6 hours)
    # and ends 2 hours before the next; the last one is still open on every other bed.
    ("""
create temporary table planned on commit drop as
select l.*, k, gen_random_uuid() as admission_id,
       $1::timestamptz + (l.lane % 1440) * interval '1 minute' + k * interval '36 hours'
           + ((l.lane * 7919 + k * 104729) % 360) * interval '1 minute' as started_at
from lanes l cross join generate_series(0, $2::integer - 1) as k""", ("start", "admissions")),
    ("""
insert into app.admissions (tenant_id, id, facility_id, patient_id, bed_id, number,
                            admitted_at, discharged_at, status)
select p.tenant_id, p.admission_id, p.facility_id, p.patient_id, p.bed_id,
       f.code || '-2025-' || lpad((row_number() over (partition by p.facility_id
                                                      order by p.started_at, p.lane))::text,
                                  6, '0'),
       p.started_at, p.ended_at,
       (case when p.ended_at is null then 'ACTIVE' else 'DISCHARGED' end)::app.admission_status
from (select planned.*,
             coalesce(lead(started_at) over (partition by lane order by k) - interval '2 hours',
                      case when lane % 2 = 1 then started_at + interval '10 hours' end)
                 as ended_at
      from planned) p
join app.facilities f on f.tenant_id = p.tenant_id and f.id = p.facility_id""", ()),
    ("""
insert into app.bed_stays (tenant_id, admission_id, facility_id, patient_id, ward_id, bed_id,
                           started_at, ended_at)
select a.tenant_id, a.id, a.facility_id, a.patient_id, p.ward_id, a.bed_id, a.admitted_at,
       a.discharged_at
from app.admissions a join planned p on p.admission_id = a.id
where a.tenant_id = $1""", ("tenant",)),
)

ACCRUE = "select * from app.accrue_bed_days($1, $2, $3)"
LAST_CLOSED_DATE = "select app.census_date($2, f.timezone) - 1 from app.facilities f where id = $1"
REPORT = "select * from app.daily_report($1, $2, $3, $4)"


async def load(url: str, tenant_id: uuid.UUID) -> int:
    values: dict[str, Any] = {
        "tenant": tenant_id, "codes": [code for code, _ in FACILITIES],
        "zones": [zone for _, zone in FACILITIES], "wards": WARDS, "beds": BEDS_PER_WARD,
        "start": START, "admissions": ADMISSIONS_PER_BED,
    }
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            for sql, names in LOAD:
                await connection.execute(sql, *(values[name] for name in names))
        await connection.execute("analyze")
        stays: int = await connection.fetchval(
            "select count(*) from app.bed_stays where tenant_id = $1", tenant_id)
        return stays
    finally:
        await connection.close()


async def as_role(url: str, role: Role, tenant_id: uuid.UUID,
                  facility_id: uuid.UUID | None) -> asyncpg.Connection:
    """A connection whose next transaction is opened with the role and its claims set."""
    connection = await asyncpg.connect(url)
    claims = Claims(tenant_id=tenant_id, role=role, user_id=None,
                    facility_ids=(facility_id,) if facility_id else ())
    await connection.execute("begin")
    await connection.execute(SET_CLAIMS, *claim_values(claims, "bench", 600_000))
    return connection


async def timed_call(url: str, role: Role, tenant_id: uuid.UUID, facility_id: uuid.UUID,
                     sql: str, *args: Any) -> tuple[list[asyncpg.Record], float]:
    connection = await as_role(url, role, tenant_id, facility_id)
    try:
        started = time.perf_counter()
        rows: list[asyncpg.Record] = await connection.fetch(sql, facility_id, *args)
        await connection.execute("commit")
        return rows, time.perf_counter() - started
    finally:
        await connection.close()


async def accrual_round(url: str, tenant_id: uuid.UUID, facilities: list[uuid.UUID],
                        census_limit: datetime, label: str) -> None:
    admin = await asyncpg.connect(url)
    try:
        through = [await admin.fetchval(LAST_CLOSED_DATE, f, census_limit) for f in facilities]
    finally:
        await admin.close()
    started = time.perf_counter()
    results = await asyncio.gather(*(
        timed_call(url, Role.BILLING, tenant_id, facility, ACCRUE, day, census_limit)
        for facility, day in zip(facilities, through, strict=True)))
    wall = time.perf_counter() - started
    written = sum(rows[0]["charges_created"] for rows, _ in results)
    per_facility = ", ".join(
        f"{code} through {day}: {rows[0]['charges_created']:,} in {seconds:.3f} s"
        for (code, _), day, (rows, seconds) in zip(FACILITIES, through, results, strict=True))
    rate = f"{written / wall:,.0f} rows/s" if written else "nothing to write"
    print(f"{label:<28} {written:>9,} rows in {wall:7.3f} s  ({rate}; {per_facility})")


async def report_round(url: str, tenant_id: uuid.UUID, facilities: list[uuid.UUID],
                       as_of: datetime) -> None:
    first = START.date()
    last = first + timedelta(days=DAYS - 1)
    results = await asyncio.gather(*(
        timed_call(url, Role.ADMIN, tenant_id, facility, REPORT, first, last, as_of)
        for facility in facilities))
    for (code, _), (rows, seconds) in zip(FACILITIES, results, strict=True):
        charged = sum(r["bed_days"] for r in rows)
        print(f"daily report {code} ({len(rows)} dates, {charged:,} bed-days): {seconds:.3f} s")


async def run(url: str) -> None:
    tenant_id = uuid.uuid4()
    started = time.perf_counter()
    stays = await load(url, tenant_id)
    print(f"loaded {stays:,} bed stays over {DAYS} days in {time.perf_counter() - started:.1f} s "
          f"({len(FACILITIES)} facilities, {WARDS * BEDS_PER_WARD:,} beds each)")
    connection = await asyncpg.connect(url)
    try:
        facilities = [r["id"] for r in await connection.fetch(
            "select id from app.facilities where tenant_id = $1 order by code", tenant_id)]
    finally:
        await connection.close()
    census_limit = START + timedelta(days=DAYS)
    await accrual_round(url, tenant_id, facilities, census_limit, "first accrual")
    await accrual_round(url, tenant_id, facilities, census_limit, "again (idempotent)")
    await accrual_round(url, tenant_id, facilities, census_limit + timedelta(days=1),
                        "next night (incremental)")
    await report_round(url, tenant_id, facilities, census_limit + timedelta(days=1))


def main() -> int:
    server = start_embedded_for_tests()
    try:
        asyncio.run(run(server.url()))
    finally:
        server.stop()
        shutil.rmtree(server.pgdata.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
