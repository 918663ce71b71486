"""Statements for admissions and bed stays.

The constraints decide every conflict (policies/admissions.sql and the 0002 migration): these
statements never check-then-write. An update that guards on `status = 'ACTIVE'` waits for a
concurrent writer of the same row and re-reads it, so a row that changed meanwhile is skipped
rather than overwritten.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

ADMISSION_COLUMNS = (
    "tenant_id, id, facility_id, patient_id, bed_id, number, admitted_at, discharged_at, "
    "status::text as status"
)

STAY_COLUMNS = "tenant_id, id, admission_id, facility_id, ward_id, bed_id, started_at, ended_at"

FETCH_ADMISSIONS_BY_ID = f"""
select {ADMISSION_COLUMNS} from app.admissions where tenant_id = $1 and id = any($2::uuid[])
"""

FETCH_ACTIVE_ADMISSIONS_BY_BED = f"""
select {ADMISSION_COLUMNS} from app.admissions
where tenant_id = $1 and bed_id = any($2::uuid[]) and status = 'ACTIVE'
"""

FETCH_ACTIVE_ADMISSIONS_BY_PATIENT = f"""
select {ADMISSION_COLUMNS} from app.admissions
where tenant_id = $1 and patient_id = any($2::uuid[]) and status = 'ACTIVE'
"""

FETCH_ADMISSIONS_BY_PATIENT = f"""
select {ADMISSION_COLUMNS} from app.admissions
where tenant_id = $1 and patient_id = any($2::uuid[])
order by patient_id, admitted_at desc, id desc
"""

FETCH_BED_STAYS_BY_ADMISSION = f"""
select {STAY_COLUMNS} from app.bed_stays
where tenant_id = $1 and admission_id = any($2::uuid[])
order by admission_id, started_at
"""

FETCH_OPEN_BED_STAY = f"""
select {STAY_COLUMNS} from app.bed_stays
where tenant_id = $1 and admission_id = $2 and ended_at is null
"""

# The number is assigned by the admissions_number trigger; the partial unique indexes refuse a
# second active admission of the bed or of the patient, whoever checked what before.
INSERT_ADMISSION = f"""
insert into app.admissions (tenant_id, facility_id, patient_id, bed_id, admitted_at, admitted_by)
values ($1, $2, $3, $4, $5, $6)
returning {ADMISSION_COLUMNS}
"""

# The exclusion constraints refuse a stay that overlaps another in the bed or of the patient.
INSERT_BED_STAY = f"""
insert into app.bed_stays
    (tenant_id, admission_id, facility_id, patient_id, ward_id, bed_id, started_at)
values ($1, $2, $3, $4, $5, $6, $7)
returning {STAY_COLUMNS}
"""

# Moving the admission to its new bed first lets the one-active-per-bed index decide a race for
# the bed before any stay is touched.
MOVE_ADMISSION = f"""
update app.admissions set bed_id = $3
where tenant_id = $1 and id = $2 and status = 'ACTIVE' and bed_id <> $3
returning {ADMISSION_COLUMNS}
"""

CLOSE_OPEN_BED_STAY = f"""
update app.bed_stays set ended_at = $3
where tenant_id = $1 and admission_id = $2 and ended_at is null
returning {STAY_COLUMNS}
"""

DISCHARGE_ADMISSION = f"""
update app.admissions set status = 'DISCHARGED', discharged_at = $3, discharged_by = $4
where tenant_id = $1 and id = $2 and status = 'ACTIVE'
returning {ADMISSION_COLUMNS}
"""

# Re-opens a discharged admission and the stay that ended at its discharge in one statement:
# the sub-statements share one snapshot, so `discharged` is the admission as it was, and the
# guard on status makes a concurrent undo or a second one skip the row rather than repeat it.
# The one-active-per-bed and per-patient indexes refuse it if the bed or the patient has been
# taken since, and the exclusion constraints if they were taken and left again meanwhile. The
# bed-day trigger (policies/bed_days.sql) fires once the statement is done, with the stay open.
# (A data-modifying WITH runs to completion whether or not the query reads it: last_stay need
# not be selected.)
UNDO_DISCHARGE = f"""
with discharged as (
    select a.tenant_id, a.id, a.discharged_at from app.admissions a
    where a.tenant_id = $1 and a.id = $2 and a.status = 'DISCHARGED'
), reopened as (
    update app.admissions a set status = 'ACTIVE', discharged_at = null, discharged_by = null
    from discharged d
    where a.tenant_id = d.tenant_id and a.id = d.id and a.status = 'DISCHARGED'
    returning a.tenant_id, a.id, a.facility_id, a.patient_id, a.bed_id, a.number,
              a.admitted_at, a.discharged_at, a.status
), last_stay as (
    update app.bed_stays s set ended_at = null
    from reopened r join discharged d on d.tenant_id = r.tenant_id and d.id = r.id
    where s.tenant_id = r.tenant_id and s.admission_id = r.id and s.ended_at = d.discharged_at
    returning s.id
)
select {ADMISSION_COLUMNS} from reopened
"""

# The stays-cover-the-admission check is deferred to commit (an admission and its first stay are
# two rows). Running it at the end of each mutation lets a violation fail that mutation like any
# other error rather than the commit; deferring again lets the next mutation of the same
# document write its rows one by one. (Two statements, one round trip: no parameters.)
CHECK_STAYS_COVER_ADMISSIONS = """
set constraints app.admissions_stays_cover, app.bed_stays_cover_admission immediate;
set constraints app.admissions_stays_cover, app.bed_stays_cover_admission deferred
"""


async def fetch_admissions_by_id(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_ADMISSIONS_BY_ID, tenant_id, ids)


async def fetch_admission(
    session: Session, tenant_id: UUID, admission_id: UUID
) -> asyncpg.Record | None:
    """One admission as it is now (not from a loader's cache)."""
    return await session.fetchrow(FETCH_ADMISSIONS_BY_ID, tenant_id, [admission_id])


async def fetch_active_admissions_by_bed(
    session: Session, tenant_id: UUID, bed_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_ACTIVE_ADMISSIONS_BY_BED, tenant_id, bed_ids)


async def fetch_active_admissions_by_patient(
    session: Session, tenant_id: UUID, patient_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_ACTIVE_ADMISSIONS_BY_PATIENT, tenant_id, patient_ids)


async def fetch_admissions_by_patient(
    session: Session, tenant_id: UUID, patient_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_ADMISSIONS_BY_PATIENT, tenant_id, patient_ids)


async def fetch_bed_stays_by_admission(
    session: Session, tenant_id: UUID, admission_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_BED_STAYS_BY_ADMISSION, tenant_id, admission_ids)


async def fetch_open_bed_stay(
    session: Session, tenant_id: UUID, admission_id: UUID
) -> asyncpg.Record | None:
    return await session.fetchrow(FETCH_OPEN_BED_STAY, tenant_id, admission_id)


async def insert_admission(
    session: Session, tenant_id: UUID, facility_id: UUID, patient_id: UUID, bed_id: UUID,
    admitted_at: datetime, admitted_by: UUID | None,
) -> asyncpg.Record:
    row = await session.fetchrow(
        INSERT_ADMISSION, tenant_id, facility_id, patient_id, bed_id, admitted_at, admitted_by
    )
    assert row is not None
    return row


async def insert_bed_stay(
    session: Session, tenant_id: UUID, admission: asyncpg.Record, ward_id: UUID, bed_id: UUID,
    started_at: datetime,
) -> asyncpg.Record:
    row = await session.fetchrow(
        INSERT_BED_STAY, tenant_id, admission["id"], admission["facility_id"],
        admission["patient_id"], ward_id, bed_id, started_at,
    )
    assert row is not None
    return row


async def move_admission(
    session: Session, tenant_id: UUID, admission_id: UUID, bed_id: UUID
) -> asyncpg.Record | None:
    """The admission in its new bed, or None if it was no longer active elsewhere."""
    return await session.fetchrow(MOVE_ADMISSION, tenant_id, admission_id, bed_id)


async def close_open_bed_stay(
    session: Session, tenant_id: UUID, admission_id: UUID, ended_at: datetime
) -> asyncpg.Record | None:
    return await session.fetchrow(CLOSE_OPEN_BED_STAY, tenant_id, admission_id, ended_at)


async def discharge_admission(
    session: Session, tenant_id: UUID, admission_id: UUID, discharged_at: datetime,
    discharged_by: UUID | None,
) -> asyncpg.Record | None:
    """The discharged admission, or None if it was not active (already discharged)."""
    return await session.fetchrow(
        DISCHARGE_ADMISSION, tenant_id, admission_id, discharged_at, discharged_by
    )


async def undo_discharge(
    session: Session, tenant_id: UUID, admission_id: UUID
) -> asyncpg.Record | None:
    """The re-opened admission, or None if it was not discharged (or not visible)."""
    return await session.fetchrow(UNDO_DISCHARGE, tenant_id, admission_id)


async def check_stays_cover_admissions(session: Session) -> None:
    await session.execute(CHECK_STAYS_COVER_ADMISSIONS)
