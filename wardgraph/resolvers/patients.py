"""Patients: search, read and register."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

from wardgraph import errors, ids, news2
from wardgraph.auth.claims import Role
from wardgraph.context import RequestContext
from wardgraph.db import patients as db
from wardgraph.paging import Page, page_size

READERS = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.PARTNER)
REGISTRARS = (Role.ADMIN, Role.CLINICIAN, Role.NURSE)
MAX_SEARCH_LENGTH = 100


def audited(context: RequestContext, patient: asyncpg.Record) -> asyncpg.Record:
    """Every patient record handed to a client is a PHI read in the audit trail."""
    context.audit_read("Patient", patient["id"], patient["id"])
    return patient


async def patient_of(context: RequestContext, patient_id: UUID) -> asyncpg.Record:
    row = await context.loaders.patient.load(patient_id)
    if row is None:
        raise errors.not_found()
    return audited(context, row)


async def read_patient_of(context: RequestContext, patient_id: UUID) -> asyncpg.Record:
    """The patient of another object (an admission, an observation): readers only."""
    context.require(*READERS, scope="patients:read")
    return await patient_of(context, patient_id)


async def patient(context: RequestContext, global_id: str) -> asyncpg.Record:
    context.require(*READERS, scope="patients:read")
    return await patient_of(context, ids.decode(global_id, "Patient"))


async def patients(
    context: RequestContext, first: int | None, after: str | None, search: str | None
) -> Page[asyncpg.Record]:
    claims = context.require(*READERS, scope="patients:read")
    limit = page_size(first, 20, context.settings.limits.max_page_size)
    search = (search or "").strip() or None
    if search is not None and len(search) > MAX_SEARCH_LENGTH:
        raise errors.invalid("search", f"A search is at most {MAX_SEARCH_LENGTH} characters")
    cursors = context.cursors("patients")
    key = cursors.decode(after, 3)
    rows = await db.fetch_patients_page(
        await context.db(), claims.tenant_id, search,
        (str(key[0]), str(key[1]), _uuid(key[2])) if key else None, limit + 1,
    )
    page = Page.of([([r["family_name"], r["given_name"], str(r["id"])], r) for r in rows], limit,
                   cursors)
    for _, row in page.items:
        audited(context, row)
    return page


def _uuid(value: object) -> UUID:
    try:
        return UUID(str(value))
    except ValueError as error:
        raise errors.invalid("after", "Not a cursor from this connection") from error


async def patient_spo2_scale(
    context: RequestContext, patient_id: UUID
) -> news2.Spo2Scale | None:
    row = await context.loaders.spo2_scale.load(patient_id)
    if row is None:
        return None
    return news2.Spo2Scale.SCALE_2 if row["spo2_scale"] == 2 else news2.Spo2Scale.SCALE_1


async def default_facility(context: RequestContext, facility_id: str | None) -> UUID:
    """The facility a patient registers at: the one given, or the user's only facility."""
    claims = context.authenticated()
    if facility_id is not None:
        return ids.decode(facility_id, "Facility")
    if len(claims.facility_ids) == 1:
        return claims.facility_ids[0]
    raise errors.invalid("facilityId", "Say which facility registers the patient")


async def create_patient(
    context: RequestContext, mrn: str, given_name: str, family_name: str, birth_date: date,
    facility_id: str | None, today: date,
) -> asyncpg.Record:
    claims = context.require(*REGISTRARS)
    if birth_date > today:
        raise errors.invalid("birthDate", "A birth date cannot be in the future")
    facility_uuid = await default_facility(context, facility_id)
    if await context.loaders.facility.load(facility_uuid) is None:
        raise errors.not_found()
    row = await db.insert_patient(
        await context.db(), claims.tenant_id, facility_uuid, mrn.strip(), given_name.strip(),
        family_name.strip(), birth_date,
    )
    context.audit_write("CREATE", "Patient", row["id"], row["id"])
    return row
