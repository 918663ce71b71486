"""Demo patients in their beds: a newly seeded demo tenant's wards each get a few admissions,
and each admitted patient one set of vital signs, so a newcomer's board is not all empty beds.

The rows are written through the same db/ statements, in the same order, as the admitPatient
and recordObservation resolvers, under the claims of the tenant's own demo admin (admitting) and
nurse (recording): the admission number comes from its trigger, the bed stay is opened with the
admission, the observation is placed by that stay and scored on both SpO2 scales, a medium or
high score raises its escalation, and each write appends its PHI audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg

from wardgraph import news2
from wardgraph.auth.claims import Claims, Role
from wardgraph.db import admissions, observations, organisation, patients
from wardgraph.db.audit import AuditEvent, record_audit_events
from wardgraph.db.operator import OPERATOR_STATEMENT_TIMEOUT_MS
from wardgraph.db.session import Session, claimed_transaction
from wardgraph.resolvers.observations import SCALES, on_each_scale, stored_scale

# One set of vital signs per admitted patient of a ward, in bed order: a LOW (0), a MEDIUM (5)
# and a HIGH (10) NEWS2 score on scale 1, so the board shows each colour and the escalations.
DEMO_VITALS = (
    news2.Vitals(respiration_rate=16, spo2=97, on_oxygen=False, systolic_bp=124, pulse=72,
                 consciousness=news2.Consciousness.ALERT, temperature=Decimal("36.8")),
    news2.Vitals(respiration_rate=22, spo2=95, on_oxygen=False, systolic_bp=108, pulse=95,
                 consciousness=news2.Consciousness.ALERT, temperature=Decimal("37.5")),
    news2.Vitals(respiration_rate=25, spo2=93, on_oxygen=False, systolic_bp=100, pulse=112,
                 consciousness=news2.Consciousness.ALERT, temperature=Decimal("38.4")),
)
ADMITTED_PER_WARD = len(DEMO_VITALS)
# Admitted a few hours ago, observed since: the observation falls inside the bed stay, and
# neither time is in the future (which the API would refuse).
ADMITTED_AGO = timedelta(hours=3)
OBSERVED_AGO = timedelta(minutes=20)
REQUEST_ID = "seed-demo-census"
PAGE = 1000  # more rows than any demo tenant holds


@dataclass(frozen=True)
class DemoAdmission:
    patient_id: UUID
    vitals: news2.Vitals


def demo_staff(tenant_id: UUID, role: Role,
               users: dict[Role, tuple[UUID, str, tuple[UUID, ...]]]) -> Claims:
    """The claims the tenant's demo user of `role` signs in with."""
    user_id, _email, facility_ids = users[role]
    return Claims(tenant_id=tenant_id, role=role, user_id=user_id, facility_ids=facility_ids)


async def admit_demo_patients(
    connection: asyncpg.Connection, tenant_id: UUID,
    users: dict[Role, tuple[UUID, str, tuple[UUID, ...]]], now: datetime | None = None,
) -> int:
    """Admit the first patients of each facility to its wards' first beds, then record their
    vital signs. Returns how many were admitted. Each step is one transaction, as one request
    of the user would be."""
    now = now or datetime.now(UTC)
    async with claimed_transaction(connection, demo_staff(tenant_id, Role.ADMIN, users),
                                   REQUEST_ID, OPERATOR_STATEMENT_TIMEOUT_MS) as session:
        admitted = await _admit(session, tenant_id, users[Role.ADMIN][0], now - ADMITTED_AGO)
        await record_audit_events(session, [AuditEvent("CREATE", "Admission", admission_id,
                                                       demo.patient_id)
                                             for admission_id, demo in admitted], now)
    async with claimed_transaction(connection, demo_staff(tenant_id, Role.NURSE, users),
                                   REQUEST_ID, OPERATOR_STATEMENT_TIMEOUT_MS) as session:
        events = [await _record(session, tenant_id, users[Role.NURSE][0], demo,
                                now - OBSERVED_AGO, now)
                  for _admission_id, demo in admitted]
        await record_audit_events(session, events, now)
    return len(admitted)


async def _admit(session: Session, tenant_id: UUID, admin_id: UUID,
                 at: datetime) -> list[tuple[UUID, DemoAdmission]]:
    """As admitPatient does for each: the admission, its first bed stay, the stays' check."""
    facilities = await organisation.fetch_facilities_page(session, tenant_id, None, PAGE)
    every_patient = await patients.fetch_patients_page(session, tenant_id, None, None, PAGE)
    admitted: list[tuple[UUID, DemoAdmission]] = []
    for facility in facilities:
        waiting = sorted((p for p in every_patient if p["facility_id"] == facility["id"]),
                         key=lambda p: p["mrn"])
        wards = await organisation.fetch_wards_by_facility(session, tenant_id, [facility["id"]])
        for ward in wards:
            beds = await organisation.fetch_beds_by_ward(session, tenant_id, [ward["id"]])
            for bed, vitals in zip(beds, DEMO_VITALS, strict=False):
                if not waiting:
                    return admitted
                patient = waiting.pop(0)
                row = await admissions.insert_admission(
                    session, tenant_id, bed["facility_id"], patient["id"], bed["id"], at,
                    admin_id)
                await admissions.insert_bed_stay(session, tenant_id, row, bed["ward_id"],
                                                 bed["id"], at)
                await admissions.check_stays_cover_admissions(session)
                admitted.append((row["id"], DemoAdmission(patient["id"], vitals)))
    return admitted


async def _record(session: Session, tenant_id: UUID, nurse_id: UUID, demo: DemoAdmission,
                  recorded_at: datetime, now: datetime) -> AuditEvent:
    """As recordObservation does: validated, scored on both scales, the patient's scale picks
    the stored score in the insert itself, and an escalating score raises its escalation."""
    vitals = demo.vitals
    news2.validate(vitals)
    new = observations.NewObservation(
        patient_id=demo.patient_id, recorded_at=recorded_at, recorded_by_user=nurse_id,
        recorded_by_partner=None, respiration_rate=vitals.respiration_rate, spo2=vitals.spo2,
        on_oxygen=vitals.on_oxygen, systolic_bp=vitals.systolic_bp, pulse=vitals.pulse,
        consciousness=vitals.consciousness.name,
        temperature=news2.round_temperature(vitals.temperature), idempotency_key=None,
    )
    one, two = (news2.score(vitals, scale) for scale in SCALES)
    row = await observations.insert_observation(session, tenant_id, new, on_each_scale(one, two))
    if row is None:
        raise RuntimeError("the demo nurse could not see a demo patient")
    score = two if stored_scale(row) is news2.Spo2Scale.SCALE_2 else one
    if score.escalates:
        await observations.insert_escalation(session, tenant_id, row["id"], now)
    return AuditEvent("CREATE", "Observation", row["id"], demo.patient_id)
