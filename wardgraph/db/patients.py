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

# Keyset pagination by (family name, given name, id), of every patient the caller may see.
FETCH_PATIENTS_PAGE = f"""
select {PATIENT_COLUMNS} from app.patients
where tenant_id = $1
  and ($2::text is null
       or (family_name, given_name, id) > ($2, $3, $4::uuid))
order by family_name, given_name, id
limit $5
"""

# The same pages, of the patients whose MRN is $2 or whose family or given name starts with
# it, case-insensitively. A prefix is the range [$3, $4) of the lower-cased name keys (collation
# "C", byte order; see prefix_range), so wildcard characters mean nothing, and an index serves
# it under RLS too: LIKE and lower() are not leakproof, so Postgres may not run them ahead of
# the policies, while text comparisons are. A statement of its own, without the "no search"
# case: its generic plan then keeps the index scans, and Postgres reuses it unplanned.
SEARCH_PATIENTS_PAGE = f"""
select {PATIENT_COLUMNS} from app.patients
where tenant_id = $1
  and (mrn = $2
       or (family_name_key >= $3 and family_name_key < $4)
       or (given_name_key >= $3 and given_name_key < $4))
  and ($5::text is null
       or (family_name, given_name, id) > ($5, $6, $7::uuid))
order by family_name, given_name, id
limit $8
"""

INSERT_PATIENT = f"""
insert into app.patients (tenant_id, facility_id, mrn, given_name, family_name, birth_date)
values ($1, $2, $3, $4, $5, $6)
returning {PATIENT_COLUMNS}
"""


_LAST_CODE_POINT = 0x10FFFF
# Surrogates never occur in text: the code point after U+D7FF is U+E000.
_SURROGATES = range(0xD800, 0xE000)
# Above every name key that starts with U+10FFFF: names are at most 100 characters
# (patients_*_name_length) and lower-casing turns one character into at most three.
_ABOVE_EVERY_KEY = chr(_LAST_CODE_POINT) * 301


def prefix_range(text: str) -> tuple[str, str]:
    """The range [low, high) of the name keys that start with `text` lower-cased, in code point
    order (which is byte order in UTF-8, collation "C"): low is the prefix itself, high the
    least text above every text that starts with it (a prefix of U+10FFFF only has none: then
    a text above every key)."""
    low = text.lower()
    stem = low
    while stem:
        last = ord(stem[-1])
        stem = stem[:-1]
        if last < _LAST_CODE_POINT:
            following = last + 1
            return low, stem + chr(_SURROGATES.stop if following in _SURROGATES else following)
    # Only U+10FFFF: every key at or above the prefix starts with it.
    return low, _ABOVE_EVERY_KEY


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
    """A page of the patients the caller may see, or of those `search` finds."""
    if search:
        return await search_patients_page(session, tenant_id, search, after, limit)
    family, given, last_id = after if after else (None, None, None)
    return await session.fetch(FETCH_PATIENTS_PAGE, tenant_id, family, given, last_id, limit)


async def search_patients_page(
    session: Session,
    tenant_id: UUID,
    search: str,
    after: tuple[str, str, UUID] | None,
    limit: int,
) -> list[asyncpg.Record]:
    family, given, last_id = after if after else (None, None, None)
    low, high = prefix_range(search)
    return await session.fetch(
        SEARCH_PATIENTS_PAGE, tenant_id, search, low, high, family, given, last_id, limit,
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
