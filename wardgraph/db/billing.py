"""Statements for bed-day charges. The rule lives in SQL (policies/bed_days.sql): accruing a
facility is one call of app.accrue_bed_days(), set-based and idempotent, never a loop here."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

# Writes every charge of the facility up to and including `through`, as the calling role, with
# the request's clock as the census limit; refuses a `through` whose midnight is still to come.
ACCRUE_BED_DAYS = """
select charges_created, amount, currency, bed_days from app.accrue_bed_days($1, $2, $3)
"""


async def accrue_bed_days(
    session: Session, facility_id: UUID, through: date, census_limit: datetime
) -> asyncpg.Record:
    """(charges_created, amount, currency, bed_days) of one accrual run."""
    row = await session.fetchrow(ACCRUE_BED_DAYS, facility_id, through, census_limit)
    assert row is not None
    return row


# -- what `wardgraph billing verify` reads (as a role that bypasses row security) --------------

FETCH_FACILITIES_FOR_VERIFY = """
select f.id, f.code, f.timezone, f.currency, w.accrued_through
from app.facilities f
left join app.bed_day_watermarks w on w.tenant_id = f.tenant_id and w.facility_id = f.id
where f.tenant_id = $1
"""

FETCH_ADMISSIONS_FOR_VERIFY = """
select id, facility_id, number, admitted_at, discharged_at
from app.admissions where tenant_id = $1
order by admitted_at, number
"""

FETCH_STAYS_FOR_VERIFY = """
select admission_id, ward_id, bed_id, started_at, ended_at
from app.bed_stays where tenant_id = $1
order by admission_id, started_at
"""

FETCH_LEDGER_FOR_VERIFY = """
select id, admission_id, service_date, census_at, ward_id, bed_id, rate, currency, reverses_id
from app.bed_days where tenant_id = $1
order by admission_id, census_at
"""


async def fetch_for_verify(
    connection: asyncpg.Connection, tenant_id: UUID
) -> tuple[list[asyncpg.Record], ...]:
    """(facilities, admissions, stays, ledger rows) of one tenant."""
    return tuple([await connection.fetch(sql, tenant_id) for sql in (
        FETCH_FACILITIES_FOR_VERIFY, FETCH_ADMISSIONS_FOR_VERIFY, FETCH_STAYS_FOR_VERIFY,
        FETCH_LEDGER_FOR_VERIFY)])
