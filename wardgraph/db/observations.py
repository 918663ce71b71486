"""Statements for observations, the escalations they raise, and a patient's NEWS2 SpO2 scale.

Recording is one INSERT ... SELECT: it reads the patient (under the recorder's RLS), the scale in
force and the bed stay covering the observation's time in the same statement that writes the
row, so a concurrent transfer or change of scale cannot fall between a look-up and the write.
A repeated idempotency key is decided by the unique index observations_idempotency_key_unique
(ON CONFLICT DO NOTHING), never by a look-up first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple
from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

OBSERVATION_COLUMNS = (
    "tenant_id, id, patient_id, facility_id, admission_id, ward_id, recorded_at, "
    "recorded_by_user, recorded_by_partner, respiration_rate, spo2, on_oxygen, systolic_bp, "
    "pulse, consciousness::text as consciousness, temperature, spo2_scale, news2_total, "
    "news2_risk::text as news2_risk, news2_red_score, idempotency_key"
)

# $13-$15 hold the score on each scale (index 1 and 2): the patient's scale, read in this very
# statement (through app.spo2_scale_for_recording(): a partner may not read the column),
# picks the one stored. The bed stay covering recorded_at places the observation
# (facility, admission, ward); without one it belongs to the registering facility.
INSERT_OBSERVATION = f"""
insert into app.observations as o (
    tenant_id, patient_id, facility_id, admission_id, ward_id, recorded_at, recorded_by_user,
    recorded_by_partner, respiration_rate, spo2, on_oxygen, systolic_bp, pulse, consciousness,
    temperature, spo2_scale, news2_total, news2_risk, news2_red_score, idempotency_key)
select p.tenant_id, p.id, coalesce(s.facility_id, p.facility_id), s.admission_id, s.ward_id,
       $3, $4, $5, $6, $7, $8, $9, $10, $11::text::app.consciousness, $12, sc.scale,
       ($13::smallint[])[sc.scale], (($14::text[])[sc.scale])::app.news2_risk,
       ($15::boolean[])[sc.scale], $16
from app.patients p
cross join lateral (select app.spo2_scale_for_recording(p.tenant_id, p.id) as scale) sc
left join lateral (
    select s.facility_id, s.admission_id, s.ward_id from app.bed_stays s
    where s.tenant_id = p.tenant_id and s.patient_id = p.id
      and tstzrange(s.started_at, s.ended_at, '[)') @> $3::timestamptz
    order by s.started_at desc
    limit 1) s on true
where p.tenant_id = $1 and p.id = $2
on conflict (tenant_id, idempotency_key) where idempotency_key is not null do nothing
returning {OBSERVATION_COLUMNS}
"""

FETCH_OBSERVATION_BY_IDEMPOTENCY_KEY = f"""
select {OBSERVATION_COLUMNS} from app.observations where tenant_id = $1 and idempotency_key = $2
"""

FETCH_OBSERVATIONS_BY_ID = f"""
select {OBSERVATION_COLUMNS} from app.observations where tenant_id = $1 and id = any($2::uuid[])
"""

# One index probe (observations_patient_recent) per patient, however many patients.
FETCH_LATEST_OBSERVATIONS = f"""
select o.* from unnest($2::uuid[]) as k (patient_id)
cross join lateral (
    select {OBSERVATION_COLUMNS} from app.observations
    where tenant_id = $1 and patient_id = k.patient_id
    order by recorded_at desc, id desc
    limit 1) o
"""

# Pages of several patients' observations, newest first, in one statement: each page is a
# patient, a page size and an optional keyset position (recorded_at, id) to continue after.
FETCH_OBSERVATION_PAGES = f"""
select k.page_key, o.* from unnest($2::text[], $3::uuid[], $4::int[], $5::timestamptz[],
                                   $6::uuid[]) as k (page_key, patient_id, lim, after_at, after_id)
cross join lateral (
    select {OBSERVATION_COLUMNS} from app.observations
    where tenant_id = $1 and patient_id = k.patient_id
      and (k.after_at is null or (recorded_at, id) < (k.after_at, k.after_id))
    order by recorded_at desc, id desc
    limit k.lim) o
order by k.page_key, o.recorded_at desc, o.id desc
"""

# The escalation repeats its observation's numbers, copied here by SQL, not by the caller. No
# RETURNING: a partner recording without observations:read may not read escalations.
INSERT_ESCALATION = """
insert into app.escalations (tenant_id, observation_id, patient_id, facility_id, ward_id,
                             news2_total, news2_risk, red_score, raised_at)
select o.tenant_id, o.id, o.patient_id, o.facility_id, o.ward_id, o.news2_total, o.news2_risk,
       o.news2_red_score, $3
from app.observations o
where o.tenant_id = $1 and o.id = $2
"""

UPDATE_SPO2_SCALE = """
update app.patients set spo2_scale = $3, spo2_scale_set_by = $4, spo2_scale_set_at = $5
where tenant_id = $1 and id = $2
returning id
"""


class NewObservation(NamedTuple):
    """What a recording supplies; the placement, the scale and the score come with it."""

    patient_id: UUID
    recorded_at: datetime
    recorded_by_user: UUID | None
    recorded_by_partner: UUID | None
    respiration_rate: int
    spo2: int
    on_oxygen: bool
    systolic_bp: int
    pulse: int
    consciousness: str
    temperature: Decimal
    idempotency_key: str | None


class ScoreOnEachScale(NamedTuple):
    """NEWS2 total, risk and red score on scale 1 and on scale 2, in that order."""

    totals: tuple[int, int]
    risks: tuple[str, str]
    red_scores: tuple[bool, bool]


class PageKey(NamedTuple):
    """One page of one patient's observations; as a string it is a DataLoader key."""

    patient_id: UUID
    limit: int
    after: tuple[datetime, UUID] | None

    def encode(self) -> str:
        after_at, after_id = self.after if self.after else (None, None)
        return "|".join((str(self.patient_id), str(self.limit),
                         after_at.isoformat() if after_at else "", str(after_id or "")))

    @classmethod
    def decode(cls, key: str) -> PageKey:
        patient_id, limit, after_at, after_id = key.split("|")
        after = (datetime.fromisoformat(after_at), UUID(after_id)) if after_at else None
        return cls(UUID(patient_id), int(limit), after)


async def insert_observation(
    session: Session, tenant_id: UUID, new: NewObservation, scores: ScoreOnEachScale
) -> asyncpg.Record | None:
    """The new observation, or None when nothing was written: the patient is not visible, or
    the idempotency key is taken."""
    return await session.fetchrow(
        INSERT_OBSERVATION, tenant_id, new.patient_id, new.recorded_at, new.recorded_by_user,
        new.recorded_by_partner, new.respiration_rate, new.spo2, new.on_oxygen, new.systolic_bp,
        new.pulse, new.consciousness, new.temperature, list(scores.totals), list(scores.risks),
        list(scores.red_scores), new.idempotency_key,
    )


async def fetch_observation_by_idempotency_key(
    session: Session, tenant_id: UUID, key: str
) -> asyncpg.Record | None:
    return await session.fetchrow(FETCH_OBSERVATION_BY_IDEMPOTENCY_KEY, tenant_id, key)


async def fetch_observations_by_id(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_OBSERVATIONS_BY_ID, tenant_id, ids)


async def fetch_latest_observations(
    session: Session, tenant_id: UUID, patient_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_LATEST_OBSERVATIONS, tenant_id, patient_ids)


async def fetch_observation_pages(
    session: Session, tenant_id: UUID, keys: Sequence[str]
) -> list[asyncpg.Record]:
    """Rows of every requested page, each with its `page_key`."""
    pages = [PageKey.decode(key) for key in keys]
    return await session.fetch(
        FETCH_OBSERVATION_PAGES, tenant_id, list(keys), [p.patient_id for p in pages],
        [p.limit for p in pages], [p.after[0] if p.after else None for p in pages],
        [p.after[1] if p.after else None for p in pages],
    )


async def insert_escalation(
    session: Session, tenant_id: UUID, observation_id: UUID, raised_at: datetime
) -> None:
    await session.execute(INSERT_ESCALATION, tenant_id, observation_id, raised_at)


async def update_spo2_scale(
    session: Session, tenant_id: UUID, patient_id: UUID, scale: int, set_by: UUID | None,
    set_at: datetime,
) -> UUID | None:
    """The patient's id, or None when the patient is not visible to the caller."""
    found: UUID | None = await session.fetchval(
        UPDATE_SPO2_SCALE, tenant_id, patient_id, scale, set_by, set_at
    )
    return found
