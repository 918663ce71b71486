"""The one statement the FHIR face needs that GraphQL does not: a patient by exact MRN.

GraphQL's patient search matches the MRN or a name prefix; a FHIR identifier search is exact,
so it gets its own statement rather than filtering a wider read (which would audit patients
never shown). RLS decides which patients the caller sees, as for every other read.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

# The columns of db/patients.py's PATIENT_COLUMNS (a test holds them equal).
FETCH_PATIENTS_BY_MRN = """
select tenant_id, id, facility_id, mrn, given_name, family_name, birth_date, created_at
from app.patients where tenant_id = $1 and mrn = $2
order by id
"""


async def fetch_patients_by_mrn(session: Session, tenant_id: UUID,
                                mrn: str) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_PATIENTS_BY_MRN, tenant_id, mrn)
