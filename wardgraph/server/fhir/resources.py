"""Rows as FHIR R4 resources: a patient, an admission as an Encounter, and each recorded
observation as one Observation per vital sign plus the NEWS2 total.

A recorded observation (one row) becomes several resources, so their ids are the row's uuid
and a suffix naming the sign (`<uuid>-rr`, ..., `<uuid>-news2`): each stays addressable, and
GET /fhir/Observation/<uuid>-<sign> reads the same row any other way of reading it does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from wardgraph import news2
from wardgraph.server.fhir import codes

Resource = dict[str, Any]

# R4's vital-signs profile, claimed by the signs whose LOINC code its value set holds; air or
# oxygen and ACVPU are NEWS2's own, coded in SNOMED CT, so they claim only the category.
VITAL_SIGNS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
UNPROFILED = {"o2", "acvpu"}


def instant(moment: datetime) -> str:
    return moment.isoformat()


def quantity(value: int | Decimal, unit: str, code: str) -> dict[str, Any]:
    number: int | float = value if isinstance(value, int) else float(value)
    return {"value": number, "unit": unit, "system": codes.UCUM, "code": code}


def reference(kind: str, resource_id: UUID | str) -> dict[str, str]:
    return {"reference": f"{kind}/{resource_id}"}


# -- Patient -----------------------------------------------------------------------------------

def patient(row: asyncpg.Record) -> Resource:
    return {
        "resourceType": "Patient",
        "id": str(row["id"]),
        "identifier": [{"use": "usual", "type": codes.MEDICAL_RECORD_NUMBER,
                        "system": codes.MRN_SYSTEM, "value": row["mrn"]}],
        "name": [{"use": "official", "family": row["family_name"],
                  "given": [row["given_name"]]}],
        "birthDate": row["birth_date"].isoformat(),
    }


# -- Encounter ---------------------------------------------------------------------------------

def period(start: datetime, end: datetime | None) -> dict[str, str]:
    found = {"start": instant(start)}
    if end is not None:
        found["end"] = instant(end)
    return found


def encounter(admission: asyncpg.Record, stays: Sequence[asyncpg.Record],
              bed_label: Callable[[UUID], str | None],
              ward_name: Callable[[UUID], str | None]) -> Resource:
    """An admission with each bed stay as two locations, its ward and its bed, over the stay's
    period (a transfer ends one stay and starts the next)."""
    locations: list[dict[str, Any]] = []
    for stay in stays:
        status = "active" if stay["ended_at"] is None else "completed"
        when = period(stay["started_at"], stay["ended_at"])
        ward, bed = ward_name(stay["ward_id"]), bed_label(stay["bed_id"])
        locations.append({"location": {"display": ward or "Ward"},
                          "status": status, "physicalType": codes.WARD_TYPE, "period": when})
        locations.append({"location": {"display": bed or "Bed"},
                          "status": status, "physicalType": codes.BED_TYPE, "period": when})
    return {
        "resourceType": "Encounter",
        "id": str(admission["id"]),
        "identifier": [{"value": str(admission["number"])}],
        "status": "in-progress" if admission["status"] == "ACTIVE" else "finished",
        "class": codes.INPATIENT,
        "subject": reference("Patient", admission["patient_id"]),
        "period": period(admission["admitted_at"], admission["discharged_at"]),
        "location": locations,
    }


# -- Observations ------------------------------------------------------------------------------

# The signs of one recording, in the order they are listed, and the NEWS2 total last.
VITAL_SIGNS = ("rr", "spo2", "o2", "bp", "hr", "temp", "acvpu")
NEWS2 = "news2"
KINDS = (*VITAL_SIGNS, NEWS2)


def observation_id(row_id: UUID, kind: str) -> str:
    return f"{row_id}-{kind}"


def parse_observation_id(resource_id: str) -> tuple[UUID, str] | None:
    """(row id, kind) of an Observation id, or None when it is not one of ours."""
    row_id, _, kind = resource_id.rpartition("-")
    if kind not in KINDS:
        return None
    try:
        return UUID(row_id), kind
    except ValueError:
        return None


def _sign(row: asyncpg.Record, kind: str, code: dict[str, Any],
          value: dict[str, Any]) -> Resource:
    return {
        "resourceType": "Observation",
        "id": observation_id(row["id"], kind),
        **({} if kind in UNPROFILED else {"meta": {"profile": [VITAL_SIGNS_PROFILE]}}),
        "status": "final",
        "category": [codes.VITAL_SIGNS_CATEGORY],
        "code": code,
        "subject": reference("Patient", row["patient_id"]),
        **({"encounter": reference("Encounter", row["admission_id"])}
           if row["admission_id"] is not None else {}),
        "effectiveDateTime": instant(row["recorded_at"]),
        **value,
    }


def vital_sign(row: asyncpg.Record, kind: str) -> Resource:
    """One vital sign of a recorded observation."""
    if kind == "rr":
        return _sign(row, kind, codes.RESPIRATORY_RATE, {
            "valueQuantity": quantity(row["respiration_rate"], "breaths/minute", "/min")})
    if kind == "spo2":
        return _sign(row, kind, codes.OXYGEN_SATURATION, {
            "valueQuantity": quantity(row["spo2"], "%", "%")})
    if kind == "o2":
        return _sign(row, kind, codes.INSPIRED_OXYGEN, {"valueCodeableConcept": codes.concept(
            codes.ON_OXYGEN if row["on_oxygen"] else codes.ROOM_AIR)})
    if kind == "bp":
        # The panel: NEWS2 records the systolic pressure only, so the diastolic component
        # (which the R4 blood pressure profile requires) says it was not asked.
        return _sign(row, kind, codes.BLOOD_PRESSURE_PANEL, {"component": [
            {"code": codes.SYSTOLIC,
             "valueQuantity": quantity(row["systolic_bp"], "mmHg", "mm[Hg]")},
            {"code": codes.DIASTOLIC, "dataAbsentReason": codes.NOT_RECORDED},
        ]})
    if kind == "hr":
        return _sign(row, kind, codes.HEART_RATE, {
            "valueQuantity": quantity(row["pulse"], "beats/minute", "/min")})
    if kind == "temp":
        return _sign(row, kind, codes.BODY_TEMPERATURE, {
            "valueQuantity": quantity(row["temperature"], "Cel", "Cel")})
    if kind == "acvpu":
        level = news2.Consciousness(row["consciousness"])
        return _sign(row, kind, codes.ACVPU, {"valueCodeableConcept": codes.concept(
            codes.CONSCIOUSNESS_CODES[level], text=level.value)})
    raise ValueError(f"not a vital sign: {kind}")


def subscore_code(name: str, scale: news2.Spo2Scale) -> dict[str, str]:
    """The SNOMED code of one NEWS2 parameter's score (news2 names them as GraphQL does)."""
    key = {"respirationRate": "respiration_rate", "airOrOxygen": "on_oxygen",
           "systolicBp": "systolic_bp", "pulse": "pulse", "consciousness": "consciousness",
           "temperature": "temperature"}.get(name)
    if key is None:
        key = "spo2_scale_2" if scale is news2.Spo2Scale.SCALE_2 else "spo2_scale_1"
    return codes.NEWS2_SUBSCORES[key]


def news2_total(row: asyncpg.Record, score: news2.News2Score,
                scale: news2.Spo2Scale) -> Resource:
    """UK Core's EarlyWarningTotalScore: the total, its sub-scores as components, the risk in
    the interpretation, and the vital signs it was derived from."""
    return {
        "resourceType": "Observation",
        "id": observation_id(row["id"], NEWS2),
        "status": "final",
        "category": [codes.SURVEY_CATEGORY],
        "code": codes.NEWS2_TOTAL,
        "subject": reference("Patient", row["patient_id"]),
        **({"encounter": reference("Encounter", row["admission_id"])}
           if row["admission_id"] is not None else {}),
        "effectiveDateTime": instant(row["recorded_at"]),
        "valueQuantity": {"value": score.total, "unit": "score", "system": codes.UCUM,
                          "code": "{ScoreOf}"},
        "interpretation": [{"text": f"NEWS2 risk {score.risk.value}"
                                    + (" (red score)" if score.red_score else "")}],
        "note": [{"text": score.response}],
        "derivedFrom": [reference("Observation", observation_id(row["id"], kind))
                        for kind in VITAL_SIGNS],
        "component": [
            {"code": codes.concept(subscore_code(p.name, scale)),
             "valueInteger": p.score}
            for p in score.parameters
        ],
    }


def observation(row: asyncpg.Record, score: news2.News2Score, scale: news2.Spo2Scale,
                kind: str) -> Resource:
    if kind == NEWS2:
        return news2_total(row, score, scale)
    return vital_sign(row, kind)
