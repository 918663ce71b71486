"""Admissions: admit, transfer, discharge, undo a discharge, and the reads of who is in which bed.

The database decides every conflict (one active admission per bed and per patient, no
overlapping stays). The look-ups here only find the rows an input names, under RLS, and word a
better message for mistakes a single user makes; with them removed the constraints still refuse.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from wardgraph import errors, ids
from wardgraph.auth.claims import Role
from wardgraph.context import RequestContext
from wardgraph.db import admissions as db
from wardgraph.db.errors import to_app_error
from wardgraph.input_rules import business_instant

WRITERS = (Role.ADMIN, Role.CLINICIAN, Role.NURSE)
READERS = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.PARTNER)
SCOPE = "admissions:read"



def require_reader(context: RequestContext) -> None:
    context.require(*READERS, scope=SCOPE)


def audited(context: RequestContext, admission: asyncpg.Record) -> asyncpg.Record:
    """Every admission handed to a client is a PHI read in the audit trail."""
    context.audit_read("Admission", admission["id"], admission["patient_id"])
    return admission


# -- reads -------------------------------------------------------------------------------------

async def admission_of(context: RequestContext, admission_id: UUID) -> asyncpg.Record:
    require_reader(context)
    row = await context.loaders.admission.load(admission_id)
    if row is None:
        raise errors.not_found()
    return audited(context, row)


async def admission(context: RequestContext, global_id: str) -> asyncpg.Record:
    require_reader(context)
    return await admission_of(context, ids.decode(global_id, "Admission"))


async def bed_current_admission(context: RequestContext, bed_id: UUID) -> asyncpg.Record | None:
    require_reader(context)
    row = await context.loaders.active_admission_by_bed.load(bed_id)
    return audited(context, row) if row else None


async def bed_occupied(context: RequestContext, bed_id: UUID) -> bool:
    """Whether someone lies in the bed; not who, so not a PHI read."""
    require_reader(context)
    return await context.loaders.active_admission_by_bed.load(bed_id) is not None


async def patient_current_admission(
    context: RequestContext, patient_id: UUID
) -> asyncpg.Record | None:
    require_reader(context)
    row = await context.loaders.active_admission_by_patient.load(patient_id)
    return audited(context, row) if row else None


async def patient_admissions(context: RequestContext, patient_id: UUID) -> list[asyncpg.Record]:
    require_reader(context)
    rows = await context.loaders.admissions_by_patient.load(patient_id)
    return [audited(context, r) for r in rows]


async def admission_stays(context: RequestContext, admission_id: UUID) -> list[asyncpg.Record]:
    require_reader(context)
    return await context.loaders.bed_stays_by_admission.load(admission_id)


# -- writes ------------------------------------------------------------------------------------

def business_time(context: RequestContext, given: datetime | None, field: str) -> datetime:
    """The time an event happened: the request's clock, or a given time in the served range."""
    return business_instant(field, given, context.now)


async def admit_patient(
    context: RequestContext, patient_id: str, bed_id: str, admitted_at: datetime | None
) -> asyncpg.Record:
    claims = context.require(*WRITERS)
    at = business_time(context, admitted_at, "admittedAt")
    patient_uuid = ids.decode_input(patient_id, "Patient", "patientId")
    bed_uuid = ids.decode_input(bed_id, "Bed", "bedId")
    patient = await context.loaders.patient.load(patient_uuid)
    bed = await context.loaders.bed.load(bed_uuid)
    if patient is None or bed is None:
        raise errors.not_found()
    session = await context.db()
    row = await db.insert_admission(session, claims.tenant_id, bed["facility_id"], patient_uuid,
                                    bed_uuid, at, claims.user_id)
    await db.insert_bed_stay(session, claims.tenant_id, row, bed["ward_id"], bed_uuid, at)
    await db.check_stays_cover_admissions(session)
    context.audit_write("CREATE", "Admission", row["id"], patient_uuid)
    return row


def refuse_transfer(admission: asyncpg.Record, bed: asyncpg.Record) -> None:
    """The mistakes a transfer can hold on its own, before the database is asked."""
    if admission["status"] != "ACTIVE":
        raise errors.invalid("admissionId", "The patient has been discharged")
    if admission["bed_id"] == bed["id"]:
        raise errors.invalid("toBedId", "The patient is already in that bed")
    if admission["facility_id"] != bed["facility_id"]:
        raise errors.invalid("toBedId", "A transfer stays within the facility: discharge the "
                             "patient, then admit them at the other facility")


async def transfer_patient(
    context: RequestContext, admission_id: str, to_bed_id: str, at: datetime | None
) -> asyncpg.Record:
    claims = context.require(*WRITERS)
    when = business_time(context, at, "at")
    admission_uuid = ids.decode_input(admission_id, "Admission", "admissionId")
    bed_uuid = ids.decode_input(to_bed_id, "Bed", "toBedId")
    current = await context.loaders.admission.load(admission_uuid)
    bed = await context.loaders.bed.load(bed_uuid)
    if current is None or bed is None:
        raise errors.not_found()
    refuse_transfer(current, bed)
    session = await context.db()
    stay = await db.fetch_open_bed_stay(session, claims.tenant_id, admission_uuid)
    if stay is not None and when <= stay["started_at"]:
        raise errors.invalid("at", "A transfer must come after the patient entered the bed "
                             "they are in")
    try:
        moved = await db.move_admission(session, claims.tenant_id, admission_uuid, bed_uuid)
    except asyncpg.UniqueViolationError as error:
        # The index decided; only the input's name for the bed differs from admitPatient's.
        refused = to_app_error(error)
        if refused is None or refused.code != errors.BED_OCCUPIED:
            raise
        raise errors.AppError(refused.code, refused.message, field="toBedId") from None
    if moved is None:
        # A concurrent transfer or discharge of this admission committed first.
        fresh = await db.fetch_admission(session, claims.tenant_id, admission_uuid)
        if fresh is None:
            raise errors.not_found()
        refuse_transfer(fresh, bed)
        raise errors.invalid("admissionId", "The admission changed meanwhile; read it again")
    await db.close_open_bed_stay(session, claims.tenant_id, admission_uuid, when)
    await db.insert_bed_stay(session, claims.tenant_id, moved, bed["ward_id"], bed_uuid, when)
    await db.check_stays_cover_admissions(session)
    context.audit_write("UPDATE", "Admission", admission_uuid, moved["patient_id"])
    return moved


async def discharge_patient(
    context: RequestContext, admission_id: str, discharged_at: datetime | None
) -> asyncpg.Record:
    """Idempotent: an admission already discharged is answered as it is, unchanged."""
    claims = context.require(*WRITERS)
    when = business_time(context, discharged_at, "dischargedAt")
    admission_uuid = ids.decode_input(admission_id, "Admission", "admissionId")
    current = await context.loaders.admission.load(admission_uuid)
    if current is None:
        raise errors.not_found()
    if current["status"] != "ACTIVE":
        return audited(context, current)
    session = await context.db()
    stay = await db.fetch_open_bed_stay(session, claims.tenant_id, admission_uuid)
    if stay is not None and when <= stay["started_at"]:
        raise errors.invalid("dischargedAt", "A discharge must come after the patient entered "
                             "the bed they are in")
    row = await db.discharge_admission(session, claims.tenant_id, admission_uuid, when,
                                       claims.user_id)
    if row is None:
        # Discharged meanwhile by a concurrent request: answer what it recorded.
        fresh = await db.fetch_admission(session, claims.tenant_id, admission_uuid)
        if fresh is None:
            raise errors.not_found()
        return audited(context, fresh)
    await db.close_open_bed_stay(session, claims.tenant_id, admission_uuid, when)
    await db.check_stays_cover_admissions(session)
    context.audit_write("UPDATE", "Admission", admission_uuid, row["patient_id"])
    return row


async def undo_discharge(context: RequestContext, admission_id: str) -> asyncpg.Record:
    """An administrator's correction: the discharged admission is in hospital again, in its
    bed. Idempotent: an admission that is active is answered as it is."""
    claims = context.require(Role.ADMIN)
    admission_uuid = ids.decode_input(admission_id, "Admission", "admissionId")
    session = await context.db()
    try:
        row = await db.undo_discharge(session, claims.tenant_id, admission_uuid)
    except (asyncpg.UniqueViolationError, asyncpg.ExclusionViolationError) as error:
        # The index or constraint decided; the input names the admission, not a bed or patient.
        refused = to_app_error(error)
        if refused is None:
            raise
        raise errors.AppError(refused.code, refused.message, field="admissionId") from None
    if row is None:
        current = await db.fetch_admission(session, claims.tenant_id, admission_uuid)
        if current is None:
            raise errors.not_found()
        return audited(context, current)
    await db.check_stays_cover_admissions(session)
    context.audit_write("UPDATE", "Admission", admission_uuid, row["patient_id"])
    return row
