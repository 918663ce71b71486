"""Vital signs, their NEWS2 score, and the inputs that record them or only score them.

Each vital's description carries its LOINC code so integrators can map it; the NEWS2 score and
its parameters are SNOMED CT concepts (the RCP publishes no LOINC code for them).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from uuid import UUID

import asyncpg
import strawberry

from wardgraph import ids
from wardgraph.context import RequestContext
from wardgraph.input_rules import BUSINESS_RANGE_TEXT
from wardgraph.news2 import News2Score as Scored
from wardgraph.news2 import ParameterScore, Risk, monitoring_interval
from wardgraph.resolvers import observations as resolve
from wardgraph.resolvers import organisation, patients
from wardgraph.resolvers.observations import ScoredObservation
from wardgraph.schema.enums import Consciousness, News2Risk, Spo2Scale
from wardgraph.schema.organisation import Facility, User, Ward
from wardgraph.schema.patients import Patient
from wardgraph.schema.relay import Node

Info = strawberry.Info[RequestContext, None]

RESPIRATION_RATE = "Respiration rate, breaths per minute (LOINC 9279-1 Respiratory rate)."
SPO2 = ("Oxygen saturation by pulse oximetry, % (LOINC 59408-5 Oxygen saturation in Arterial "
        "blood by Pulse oximetry; 2708-6 where the method is not coded).")
ON_OXYGEN = ("Whether the patient is on supplemental oxygen (true) or breathing air (false): "
             "NEWS2 \"air or oxygen\". LOINC 3151-8 Inhaled oxygen flow rate is the vital an "
             "integrator maps: a flow above 0 L/min means true.")
SYSTOLIC_BP = "Systolic blood pressure, mmHg (LOINC 8480-6 Systolic blood pressure)."
PULSE = "Pulse, beats per minute (LOINC 8867-4 Heart rate)."
CONSCIOUSNESS = "Level of consciousness, ACVPU (LOINC 67775-7 Level of responsiveness)."
TEMPERATURE = ("Body temperature, °C (LOINC 8310-5 Body temperature); scored and stored rounded "
               "half up to one decimal.")


@strawberry.type(description="The score of one NEWS2 parameter (RCP 2017 chart 1).")
class News2Parameter:
    name: str = strawberry.field(
        description="respirationRate, spo2, airOrOxygen, systolicBp, pulse, consciousness or "
        "temperature (SNOMED CT 1104301000000104, 1104311000000102 (scale 1) or "
        "1104321000000108 (scale 2), 1104331000000105, 1104341000000101, 1104351000000103, "
        "1104361000000100, 1104371000000107: the NEWS2 parameter scores).")
    value: str = strawberry.field(
        description="The value as scored: a number, AIR or OXYGEN, or an ACVPU level.")
    score: int = strawberry.field(description="0 to 3.")

    @classmethod
    def of(cls, parameter: ParameterScore) -> News2Parameter:
        return cls(name=parameter.name, value=parameter.value, score=parameter.score)


@strawberry.type(description="A NEWS2 score (Royal College of Physicians, NEWS2, 2017; SNOMED CT "
                 "1104051000000101 NEWS2 total score) with the response the chart prescribes.")
class News2Score:
    total: int = strawberry.field(description="Aggregate score, 0 to 20.")
    risk: News2Risk = strawberry.field(description="Clinical risk: LOW, LOW_MEDIUM, MEDIUM or "
                                       "HIGH.")
    red_score: bool = strawberry.field(description="Some parameter scored 3.")
    parameters: list[News2Parameter] = strawberry.field(
        description="Each parameter's score, in chart order.")
    monitoring: str = strawberry.field(description="Minimum frequency of monitoring.")
    response: str = strawberry.field(description="The clinical response to the score.")

    @classmethod
    def of(cls, score: Scored) -> News2Score:
        return cls(total=score.total, risk=News2Risk(score.risk.value),
                   red_score=score.red_score,
                   parameters=[News2Parameter.of(p) for p in score.parameters],
                   monitoring=score.monitoring, response=score.response)


# Scores shown, remembered: a dashboard polled all day shows the same observations on every poll
# (the objects are shared between requests and never modified).
@lru_cache(maxsize=resolve.SCORES_REMEMBERED)
def shown_score(score: Scored) -> News2Score:
    return News2Score.of(score)


@strawberry.type(description="One set of vital signs of a patient with its NEWS2 score. Every "
                 "read is recorded in the audit trail.")
class Observation(Node):
    db_id: strawberry.Private[UUID]
    patient_id: strawberry.Private[UUID]
    facility_id: strawberry.Private[UUID]
    ward_id: strawberry.Private[UUID | None]
    recorded_by_user: strawberry.Private[UUID | None]
    respiration_rate: int = strawberry.field(description=RESPIRATION_RATE)
    spo2: int = strawberry.field(description=SPO2)
    on_oxygen: bool = strawberry.field(description=ON_OXYGEN)
    systolic_bp: int = strawberry.field(description=SYSTOLIC_BP)
    pulse: int = strawberry.field(description=PULSE)
    consciousness: Consciousness = strawberry.field(description=CONSCIOUSNESS)
    temperature: float = strawberry.field(description=TEMPERATURE)
    recorded_at: datetime = strawberry.field(description="When the vital signs were taken.")
    spo2_scale: Spo2Scale = strawberry.field(
        description="The patient's SpO2 scale when recorded; the score used it.")
    news2: News2Score = strawberry.field(
        description="The NEWS2 score of these vital signs on spo2Scale, as stored when they "
        "were recorded.")

    @classmethod
    def of(cls, scored: ScoredObservation) -> Observation:
        return cls.from_row(scored.row, shown_score(scored.score))

    @classmethod
    def from_row(cls, row: asyncpg.Record, score: News2Score) -> Observation:
        return cls(
            id=strawberry.ID(ids.encode("Observation", row["id"])), db_id=row["id"],
            patient_id=row["patient_id"], facility_id=row["facility_id"],
            ward_id=row["ward_id"], recorded_by_user=row["recorded_by_user"],
            respiration_rate=row["respiration_rate"], spo2=row["spo2"],
            on_oxygen=row["on_oxygen"], systolic_bp=row["systolic_bp"], pulse=row["pulse"],
            consciousness=Consciousness(row["consciousness"]),
            temperature=float(row["temperature"]), recorded_at=row["recorded_at"],
            spo2_scale=Spo2Scale.SCALE_2 if row["spo2_scale"] == 2 else Spo2Scale.SCALE_1,
            news2=score)

    @strawberry.field(description="When the next observation is due: recordedAt plus the "
                      "longest interval news2.monitoring allows (12 hours for a total of 0, 4 "
                      "hours for 1-4, the shorter end of 4-6 hourly, 1 hour for a red score or "
                      "5-6). Null when the score asks for continuous monitoring (7 or more).")
    def next_due_at(self) -> datetime | None:
        interval = monitoring_interval(self.news2.total, Risk(self.news2.risk.value))
        return None if interval is None else self.recorded_at + interval

    @strawberry.field(description="The patient (partners need the patients:read scope).")
    async def patient(self, info: Info) -> Patient:
        return Patient.from_row(await patients.read_patient_of(info.context, self.patient_id))

    @strawberry.field(description="The member of staff who recorded it; null when a partner "
                      "integration recorded it (partners may not read staff: FORBIDDEN).")
    async def recorded_by(self, info: Info) -> User | None:
        row = await resolve.recorded_by(info.context, self.recorded_by_user)
        return User.from_row(row) if row is not None else None

    @strawberry.field(description="Where the patient was: the facility of the admission in "
                      "force at recordedAt, else the registering facility.")
    async def facility(self, info: Info) -> Facility:
        return Facility.from_row(await organisation.facility_of(info.context, self.facility_id))

    @strawberry.field(description="The ward the patient was in at recordedAt; null when not "
                      "admitted then.")
    async def ward(self, info: Info) -> Ward | None:
        if self.ward_id is None:
            return None
        return Ward.of(await organisation.ward_of(info.context, self.ward_id))


@strawberry.input(description="One set of vital signs, as NEWS2 scores them. Impossible values "
                  "are refused with VALIDATION_FAILED naming the field.")
class VitalsInput:
    respiration_rate: int = strawberry.field(description=RESPIRATION_RATE + " 0 to 80.")
    spo2: int = strawberry.field(description=SPO2 + " 0 to 100.")
    on_oxygen: bool = strawberry.field(description=ON_OXYGEN)
    systolic_bp: int = strawberry.field(description=SYSTOLIC_BP + " 20 to 300.")
    pulse: int = strawberry.field(description=PULSE + " 0 to 300.")
    consciousness: Consciousness = strawberry.field(description=CONSCIOUSNESS)
    temperature: float = strawberry.field(description=TEMPERATURE + " 25.0 to 45.0.")


@strawberry.input(description="Record a patient's vital signs; NEWS2 scores them on the "
                  "patient's SpO2 scale.")
class RecordObservationInput(VitalsInput):
    patient_id: strawberry.ID = strawberry.field(description="The patient.")
    recorded_at: datetime | None = strawberry.field(
        default=None, description="When the vital signs were taken, with a UTC offset; "
        "defaults to now. " + BUSINESS_RANGE_TEXT)
    idempotency_key: str | None = strawberry.field(
        default=None, description="1 to 200 characters chosen by the client, unique in the "
        "tenant. Sending the same observation again with the same key (a retry after a dropped "
        "connection) answers the first one and records nothing, even when both arrive at "
        "once. The same key with other vital signs, another patient, another recorder or "
        "another recordedAt (compared only when given) is refused (VALIDATION_FAILED, field "
        "idempotencyKey).")


@strawberry.input(description="Set the NEWS2 SpO2 scale of a patient (CLINICIAN).")
class SetSpo2ScaleInput:
    patient_id: strawberry.ID = strawberry.field(description="The patient.")
    scale: Spo2Scale = strawberry.field(
        description="SCALE_2 only for a prescribed 88-92% target; it applies to observations "
        "recorded from now on.")
