"""The codes the FHIR face speaks, each from a published source.

Sources:
- FHIR R4 vital-signs profile (http://hl7.org/fhir/R4/observation-vitalsigns.html): category
  `vital-signs` from the observation-category code system, one LOINC code per sign, UCUM units.
- HL7 UK Core (https://simplifier.net/hl7fhirukcorer4): SNOMED CT codings carried beside LOINC
  for the vital signs, and UKCore-Observation-EarlyWarningTotalScore for the NEWS2 total.
- US Core pulse oximetry adds LOINC 59408-5 beside base R4's fixed 2708-6.
"""

from __future__ import annotations

from typing import Any

from wardgraph import news2

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V2_IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
LOCATION_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# The MRN is unique within a tenant; the identifier system names that namespace.
MRN_SYSTEM = "urn:wardgraph:mrn"


def coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


def concept(*codings: dict[str, str], text: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"coding": list(codings)} if codings else {}
    if text is not None:
        found["text"] = text
    return found


VITAL_SIGNS_CATEGORY = concept(coding(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs"))
# UK Core's early warning total score is a `survey` Observation.
SURVEY_CATEGORY = concept(coding(OBSERVATION_CATEGORY, "survey", "Survey"))

# LOINC 9279-1 (R4 vital signs: respiratory rate), SNOMED 86290005 (UK Core).
RESPIRATORY_RATE = concept(coding(LOINC, "9279-1", "Respiratory rate"),
                           coding(SNOMED, "86290005", "Respiratory rate"),
                           text="Respiratory rate")
# LOINC 2708-6 (fixed by R4's oxygen saturation profile) and 59408-5 (US Core pulse oximetry).
OXYGEN_SATURATION = concept(
    coding(LOINC, "2708-6", "Oxygen saturation in Arterial blood"),
    coding(LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
    text="Oxygen saturation")
# LOINC 85354-9 blood pressure panel (R4 vital signs); systolic 8480-6, diastolic 8462-4.
BLOOD_PRESSURE_PANEL = concept(
    coding(LOINC, "85354-9", "Blood pressure panel with all children optional"),
    text="Blood pressure")
SYSTOLIC = concept(coding(LOINC, "8480-6", "Systolic blood pressure"),
                   coding(SNOMED, "271649006", "Systolic blood pressure"),
                   text="Systolic blood pressure")
DIASTOLIC = concept(coding(LOINC, "8462-4", "Diastolic blood pressure"),
                    text="Diastolic blood pressure")
# LOINC 8867-4 (R4 vital signs: heart rate), SNOMED 364075005 (UK Core).
HEART_RATE = concept(coding(LOINC, "8867-4", "Heart rate"),
                     coding(SNOMED, "364075005", "Heart rate"), text="Heart rate")
# LOINC 8310-5 (R4 vital signs: body temperature).
BODY_TEMPERATURE = concept(coding(LOINC, "8310-5", "Body temperature"),
                           text="Body temperature")
# SNOMED 1104441000000107: ACVPU scale (UK Core, NEWS2 consciousness).
ACVPU = concept(coding(SNOMED, "1104441000000107",
                       "ACVPU (Alert Confusion Voice Pain Unresponsive) scale score"),
                text="Level of consciousness (ACVPU)")
# Air or supplemental oxygen, as NEWS2 asks it: a SNOMED finding as the value.
INSPIRED_OXYGEN = concept(text="Air or oxygen")
ROOM_AIR = coding(SNOMED, "722742002", "Breathing room air")
ON_OXYGEN = coding(SNOMED, "371825009", "Patient on oxygen")

# AVPU findings: SNOMED CT 248234008, 300202002, 450847001, 422768004 (as published AVPU value
# sets code them); new confusion, NEWS2's "C", is SNOMED CT 130987000 Acute confusion.
CONSCIOUSNESS_CODES: dict[news2.Consciousness, dict[str, str]] = {
    news2.Consciousness.ALERT: coding(SNOMED, "248234008", "Mentally alert"),
    news2.Consciousness.NEW_CONFUSION: coding(SNOMED, "130987000", "Acute confusion"),
    news2.Consciousness.VOICE: coding(SNOMED, "300202002", "Responds to voice"),
    news2.Consciousness.PAIN: coding(SNOMED, "450847001", "Responds to pain"),
    news2.Consciousness.UNRESPONSIVE: coding(SNOMED, "422768004", "Unresponsive"),
}

# SNOMED 1104051000000101 (UK Core EarlyWarningTotalScore), value in UCUM `{ScoreOf}`.
NEWS2_TOTAL = concept(coding(
    SNOMED, "1104051000000101",
    "Royal College of Physicians National Early Warning Score 2 total score"),
    text="NEWS2 total score")
# The NEWS2 sub-scores as UK Core's EarlyWarningTotalScore components code them, keyed by
# the parameter names of wardgraph.news2.
NEWS2_SUBSCORES: dict[str, dict[str, str]] = {
    "respiration_rate": coding(SNOMED, "1104301000000104",
                               "NEWS2 respiration rate score"),
    "spo2_scale_1": coding(SNOMED, "1104311000000102", "NEWS2 SpO2 scale 1 score"),
    "spo2_scale_2": coding(SNOMED, "1104321000000108", "NEWS2 SpO2 scale 2 score"),
    "on_oxygen": coding(SNOMED, "1104331000000105", "NEWS2 air or oxygen score"),
    "systolic_bp": coding(SNOMED, "1104341000000101", "NEWS2 systolic blood pressure score"),
    "pulse": coding(SNOMED, "1104351000000103", "NEWS2 pulse score"),
    "consciousness": coding(SNOMED, "1104361000000100", "NEWS2 consciousness score"),
    "temperature": coding(SNOMED, "1104371000000107", "NEWS2 temperature score"),
}

# Inpatient encounter: v3 ActCode IMP (R4 Encounter.class).
INPATIENT = coding(V3_ACT_CODE, "IMP", "inpatient encounter")
MEDICAL_RECORD_NUMBER = concept(coding(V2_IDENTIFIER_TYPE, "MR", "Medical record number"))
WARD_TYPE = concept(coding(LOCATION_TYPE, "wa", "Ward"))
BED_TYPE = concept(coding(LOCATION_TYPE, "bd", "Bed"))
NOT_RECORDED = concept(coding(DATA_ABSENT_REASON, "not-asked", "Not Asked"))


def listed(value: object) -> list[Any]:
    """A JSON array a client sent, or nothing: anything else in its place holds no element."""
    return value if isinstance(value, list) else []


def codes_of(value: object) -> set[tuple[str, str]]:
    """The (system, code) pairs of a CodeableConcept a client sent."""
    if not isinstance(value, dict):
        return set()
    found = set()
    for one in listed(value.get("coding")):
        if isinstance(one, dict) and isinstance(one.get("code"), str):
            found.add((str(one.get("system", "")), one["code"]))
    return found
