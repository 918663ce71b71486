"""Observations: record vital signs, read them with their NEWS2 score, score without storing,
and set the SpO2 scale a patient's observations are scored on.

news2.validate refuses impossible values before anything is stored; the table's checks refuse
them again for any other writer. The score is computed here, by wardgraph.news2, and stored with
the row so SQL reports can filter on it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Protocol
from uuid import UUID

import asyncpg

from wardgraph import errors, ids, news2
from wardgraph.auth.claims import Claims, Role
from wardgraph.context import RequestContext
from wardgraph.db import observations as db
from wardgraph.input_rules import business_instant
from wardgraph.paging import Page, page_size
from wardgraph.resolvers import patients

RECORDERS = (Role.NURSE, Role.CLINICIAN, Role.PARTNER)
READERS = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.PARTNER)
READ_SCOPE = "observations:read"
WRITE_SCOPE = "observations:write"
MAX_IDEMPOTENCY_KEY_LENGTH = 200

# news2.InvalidVitals names Vitals attributes; clients know the GraphQL input fields.
FIELD_NAMES = {
    "respiration_rate": "respirationRate",
    "spo2": "spo2",
    "on_oxygen": "onOxygen",
    "systolic_bp": "systolicBp",
    "pulse": "pulse",
    "consciousness": "consciousness",
    "temperature": "temperature",
}
SCALES = (news2.Spo2Scale.SCALE_1, news2.Spo2Scale.SCALE_2)  # index + 1 = the stored number



class GivenVitals(Protocol):
    """Vital signs as a client gives them (the schema's VitalsInput)."""

    @property
    def respiration_rate(self) -> int: ...
    @property
    def spo2(self) -> int: ...
    @property
    def on_oxygen(self) -> bool: ...
    @property
    def systolic_bp(self) -> int: ...
    @property
    def pulse(self) -> int: ...
    @property
    def consciousness(self) -> enum.Enum: ...
    @property
    def temperature(self) -> float: ...


class GivenRecording(GivenVitals, Protocol):
    """An observation as a client records it (the schema's RecordObservationInput)."""

    @property
    def patient_id(self) -> str: ...
    @property
    def recorded_at(self) -> datetime | None: ...
    @property
    def idempotency_key(self) -> str | None: ...


@dataclass(frozen=True)
class ScoredObservation:
    """An observation's row with its NEWS2 score on the scale it was recorded on."""

    row: asyncpg.Record
    score: news2.News2Score


# -- scoring -----------------------------------------------------------------------------------

def vitals_of(given: GivenVitals) -> news2.Vitals:
    """The input as news2 vitals, validated: VALIDATION_FAILED names the first bad field."""
    vitals = news2.Vitals(
        respiration_rate=given.respiration_rate, spo2=given.spo2, on_oxygen=given.on_oxygen,
        systolic_bp=given.systolic_bp, pulse=given.pulse,
        consciousness=news2.Consciousness(given.consciousness.name),
        temperature=Decimal(str(given.temperature)),  # as written, not its binary double
    )
    try:
        news2.validate(vitals)
    except news2.InvalidVitals as invalid:
        field = FIELD_NAMES.get(invalid.field, invalid.field)
        raise errors.invalid(field, invalid.message.replace(invalid.field, field)) from None
    return vitals


def stored_vitals(row: asyncpg.Record) -> news2.Vitals:
    return news2.Vitals(
        respiration_rate=row["respiration_rate"], spo2=row["spo2"], on_oxygen=row["on_oxygen"],
        systolic_bp=row["systolic_bp"], pulse=row["pulse"],
        consciousness=news2.Consciousness(row["consciousness"]),
        temperature=row["temperature"],
    )


def stored_scale(row: asyncpg.Record) -> news2.Spo2Scale:
    return SCALES[row["spo2_scale"] - 1]


def observation(context: RequestContext, row: asyncpg.Record) -> ScoredObservation:
    """An observation handed to a client: a PHI read in the audit trail."""
    context.audit_read("Observation", row["id"], row["patient_id"])
    return ScoredObservation(row, stored_score(stored_vitals(row), stored_scale(row)))


# Scores remembered: a dashboard polled all day shows the same observations on every poll.
SCORES_REMEMBERED = 4096


@lru_cache(maxsize=SCORES_REMEMBERED)
def stored_score(vitals: news2.Vitals, scale: news2.Spo2Scale) -> news2.News2Score:
    """The NEWS2 breakdown of stored vital signs, a function of them and the scale alone
    (shared between requests, never modified)."""
    return news2.score(vitals, scale)


def calculate(context: RequestContext, vitals: GivenVitals,
              scale: news2.Spo2Scale) -> news2.News2Score:
    """The calculator: scores, stores nothing, touches no database."""
    context.authenticated()
    return news2.score(vitals_of(vitals), scale)


# -- reads -------------------------------------------------------------------------------------

def require_reader(context: RequestContext) -> Claims:
    return context.require(*READERS, scope=READ_SCOPE)


async def observation_of(context: RequestContext, observation_id: UUID) -> ScoredObservation:
    require_reader(context)
    row = await context.loaders.observation.load(observation_id)
    if row is None:
        raise errors.not_found()
    return observation(context, row)


async def latest_observation(
    context: RequestContext, patient_id: UUID
) -> ScoredObservation | None:
    require_reader(context)
    row = await context.loaders.latest_observation.load(patient_id)
    return observation(context, row) if row is not None else None


async def patient_observations(
    context: RequestContext, patient_id: UUID, first: int | None, after: str | None
) -> Page[ScoredObservation]:
    """Newest first, by (recordedAt, id)."""
    require_reader(context)
    limit = page_size(first, 20, context.settings.limits.max_page_size)
    cursors = context.cursors("observations")
    key = db.PageKey(patient_id, limit + 1, _position(cursors.decode(after, 2)))
    rows = await context.loaders.observation_pages.load(key.encode())
    # The extra row is looked at, not read: only the page's rows are audited.
    return Page([([r["recorded_at"].isoformat(), str(r["id"])], observation(context, r))
                 for r in rows[:limit]], len(rows) > limit, cursors)


def _position(key: list[object] | None) -> tuple[datetime, UUID] | None:
    if key is None:
        return None
    try:
        return datetime.fromisoformat(str(key[0])), UUID(str(key[1]))
    except ValueError as error:
        raise errors.invalid("after", "Not a cursor from this connection") from error


async def recorded_by(context: RequestContext, user_id: UUID | None) -> asyncpg.Record | None:
    if user_id is None:
        return None
    if context.authenticated().is_partner:
        # wg_partner holds no grant on app.users: say so rather than let the database abort
        # the request's transaction.
        raise errors.forbidden("Partners may not read staff records")
    return await context.loaders.user.load(user_id)


async def spo2_scale_set_at(context: RequestContext, patient_id: UUID) -> datetime | None:
    row = await context.loaders.spo2_scale.load(patient_id)
    return row["spo2_scale_set_at"] if row is not None else None


async def spo2_scale_set_by(context: RequestContext, patient_id: UUID) -> asyncpg.Record | None:
    row = await context.loaders.spo2_scale.load(patient_id)
    return await recorded_by(context, row["spo2_scale_set_by"] if row is not None else None)


# -- writes ------------------------------------------------------------------------------------

def recording_time(context: RequestContext, given: datetime | None) -> datetime:
    """The request's clock, or a given time in the served range."""
    return business_instant("recordedAt", given, context.now,
                            "Vital signs cannot be recorded in the future")


def checked_key(key: str | None) -> str | None:
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH:
        raise errors.invalid("idempotencyKey", "An idempotency key is 1 to "
                             f"{MAX_IDEMPOTENCY_KEY_LENGTH} characters")
    return key


def on_each_scale(one: news2.News2Score, two: news2.News2Score) -> db.ScoreOnEachScale:
    return db.ScoreOnEachScale((one.total, two.total), (one.risk.value, two.risk.value),
                               (one.red_score, two.red_score))


def same_recording(row: asyncpg.Record, new: db.NewObservation,
                   recorded_at_given: bool) -> bool:
    """Whether a stored observation is what this request would have recorded: a retry. The
    clock-defaulted recordedAt of a retry is later than the first attempt's, so it is compared
    only when the client gave one."""
    return (
        row["patient_id"] == new.patient_id
        and row["recorded_by_user"] == new.recorded_by_user
        and row["recorded_by_partner"] == new.recorded_by_partner
        and (row["respiration_rate"], row["spo2"], row["on_oxygen"], row["systolic_bp"],
             row["pulse"], row["consciousness"], row["temperature"])
        == (new.respiration_rate, new.spo2, new.on_oxygen, new.systolic_bp, new.pulse,
            new.consciousness, new.temperature)
        and (not recorded_at_given or row["recorded_at"] == new.recorded_at)
    )


async def record_observation(
    context: RequestContext, given: GivenRecording
) -> ScoredObservation:
    claims = context.require(*RECORDERS, scope=WRITE_SCOPE)
    vitals = vitals_of(given)
    new = db.NewObservation(
        patient_id=ids.decode_input(given.patient_id, "Patient", "patientId"),
        recorded_at=recording_time(context, given.recorded_at),
        recorded_by_user=None if claims.is_partner else claims.user_id,
        recorded_by_partner=claims.partner_token_id if claims.is_partner else None,
        respiration_rate=vitals.respiration_rate, spo2=vitals.spo2, on_oxygen=vitals.on_oxygen,
        systolic_bp=vitals.systolic_bp, pulse=vitals.pulse,
        consciousness=given.consciousness.name,
        temperature=news2.round_temperature(vitals.temperature),
        idempotency_key=checked_key(given.idempotency_key),
    )
    # The statement reads the patient under the caller's policies: a patient the caller may not
    # see writes nothing (replayed() then tells a retry from an unknown patient).
    # Scored on both scales: the statement that writes the row reads the patient's scale and
    # stores the matching score, so a concurrent setSpo2Scale cannot slip in between.
    one, two = (news2.score(vitals, scale) for scale in SCALES)
    session = await context.db()
    row = await db.insert_observation(session, claims.tenant_id, new, on_each_scale(one, two))
    if row is None:
        return await replayed(context, claims, new, given.recorded_at is not None)
    score = two if stored_scale(row) is news2.Spo2Scale.SCALE_2 else one
    if score.escalates:
        await db.insert_escalation(session, claims.tenant_id, row["id"], context.now)
    context.audit_write("CREATE", "Observation", row["id"], new.patient_id)
    return ScoredObservation(row, score)


async def replayed(context: RequestContext, claims: Claims, new: db.NewObservation,
                   recorded_at_given: bool) -> ScoredObservation:
    """The answer when nothing was written: the first observation, if this is a retry of it;
    NOT_FOUND if the caller may not see the patient (the statement found no patient to read)."""
    if new.idempotency_key is None:
        raise errors.not_found()
    row = await db.fetch_observation_by_idempotency_key(
        await context.db(), claims.tenant_id, new.idempotency_key)
    if row is None and await context.loaders.patient.load(new.patient_id) is None:
        raise errors.not_found()
    if row is None or not same_recording(row, new, recorded_at_given):
        raise errors.invalid("idempotencyKey", "This idempotency key was already used for "
                             "another observation")
    return observation(context, row)


async def set_spo2_scale(
    context: RequestContext, patient_id: str, scale: news2.Spo2Scale
) -> asyncpg.Record:
    claims = context.require(Role.CLINICIAN)
    patient_uuid = ids.decode_input(patient_id, "Patient", "patientId")
    updated = await db.update_spo2_scale(
        await context.db(), claims.tenant_id, patient_uuid,
        SCALES.index(scale) + 1, claims.user_id, context.now)
    if updated is None:
        raise errors.not_found()
    context.audit_write("UPDATE", "Patient", patient_uuid, patient_uuid)
    context.loaders.spo2_scale.clear_all()  # a scale read earlier in the request is stale
    return await patients.patient_of(context, patient_uuid)
