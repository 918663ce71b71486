"""Statements for patients."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

# Columns every role that may read patients is granted; the SpO2 scale is read separately
# (clinical roles only, by column grant).
PATIENT_COLUMNS = (
    "tenant_id, id, facility_id, mrn, given_name, family_name, birth_date, created_at"
)

FETCH_PATIENTS_BY_ID = f"""
select {PATIENT_COLUMNS} from app.patients where tenant_id = $1 and id = any($2::uuid[])
"""

FETCH_SPO2_SCALES = """
select id, spo2_scale, spo2_scale_set_by, spo2_scale_set_at
from app.patients where tenant_id = $1 and id = any($2::uuid[])
"""

# Keyset pagination by (family name, given name, id). `search` matches an MRN exactly or a
# name by prefix, case-insensitively; the pattern's wildcards are escaped by the caller.
FETCH_PATIENTS_PAGE = f"""
select {PATIENT_COLUMNS} from app.patients
where tenant_id = $1
  and ($2::text is null
       or mrn = $2
       or lower(family_name) like $3 escape '\\'
       or lower(given_name) like $3 escape '\\')
  and ($4::text is null
       or (family_name, given_name, id) > ($4, $5, $6::uuid))
order by family_name, given_name, id
limit $7
"""

INSERT_PATIENT = f"""
insert into app.patients (tenant_id, facility_id, mrn, given_name, family_name, birth_date)
values ($1, $2, $3, $4, $5, $6)
returning {PATIENT_COLUMNS}
"""


def like_prefix(text: str) -> str:
    """A LIKE pattern matching `text` as a literal prefix, lower-cased."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def fetch_patients_by_id(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_PATIENTS_BY_ID, tenant_id, ids)


async def fetch_spo2_scales(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_SPO2_SCALES, tenant_id, ids)


async def fetch_patients_page(
    session: Session,
    tenant_id: UUID,
    search: str | None,
    after: tuple[str, str, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    family, given, last_id = after if after else (None, None, None)
    return await session.fetch(
        FETCH_PATIENTS_PAGE, tenant_id, search, like_prefix(search) if search else None,
        family, given, last_id, limit,
    )


async def insert_patient(
    session: Session, tenant_id: UUID, facility_id: UUID, mrn: str, given_name: str,
    family_name: str, birth_date: date,
) -> asyncpg.Record:
    row = await session.fetchrow(
        INSERT_PATIENT, tenant_id, facility_id, mrn, given_name, family_name, birth_date
    )
    assert row is not None
    return row
