"""Vital-sign Observations a partner sends, as the recording recordObservation takes.

Monitors send one Observation per sign, for one patient at one time, in a transaction Bundle;
a single POST /fhir/Observation carries them as the components of one vital-signs panel
(LOINC 85353-1). Either way each sign is found by its code (codes.py), every one of the seven
NEWS2 parameters must be there, and the Bundle's or the Observation's identifier is the
idempotency key: a retry records nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wardgraph import errors, ids, news2
from wardgraph.server.fhir import codes
from wardgraph.server.fhir.search import reference_id

# LOINC 85353-1: vital signs panel (R4 vital-signs profile), the envelope of a single POST.
VITAL_SIGNS_PANEL = (codes.LOINC, "85353-1")

SIGNS: dict[str, set[tuple[str, str]]] = {
    "respiration_rate": {(codes.LOINC, "9279-1"), (codes.SNOMED, "86290005")},
    "spo2": {(codes.LOINC, "2708-6"), (codes.LOINC, "59408-5")},
    "systolic_bp": {(codes.LOINC, "8480-6"), (codes.SNOMED, "271649006")},
    "blood_pressure": {(codes.LOINC, "85354-9")},
    "pulse": {(codes.LOINC, "8867-4"), (codes.SNOMED, "364075005")},
    "temperature": {(codes.LOINC, "8310-5")},
    "consciousness": {(codes.SNOMED, "1104441000000107")},
}
OXYGEN = {(codes.ROOM_AIR["system"], codes.ROOM_AIR["code"]): False,
          (codes.ON_OXYGEN["system"], codes.ON_OXYGEN["code"]): True}
LEVELS = {(c["system"], c["code"]): level for level, c in codes.CONSCIOUSNESS_CODES.items()}
# What each sign's value must be in, in UCUM: the unit a monitor sends is checked, not assumed.
UNITS = {"respiration_rate": "/min", "spo2": "%", "systolic_bp": "mm[Hg]", "pulse": "/min",
         "temperature": "Cel"}
WHOLE_NUMBERS = {"respiration_rate", "spo2", "systolic_bp", "pulse"}
REQUIRED = ("respiration_rate", "spo2", "on_oxygen", "systolic_bp", "pulse", "consciousness",
            "temperature")


@dataclass(frozen=True)
class Recording:
    """A recording as resolvers.observations.record_observation takes it (GivenRecording)."""

    patient_id: str
    recorded_at: datetime | None
    idempotency_key: str | None
    respiration_rate: int
    spo2: int
    on_oxygen: bool
    systolic_bp: int
    pulse: int
    consciousness: news2.Consciousness
    temperature: float


def refused(message: str, expression: str = "Observation") -> errors.AppError:
    return errors.invalid(expression, message)


def quantity_of(sign: str, element: dict[str, Any]) -> int | float:
    value = element.get("valueQuantity")
    if not isinstance(value, dict) or not isinstance(value.get("value"), int | float) or (
            isinstance(value.get("value"), bool)):
        raise refused(f"The {sign} needs a valueQuantity with a value")
    if value.get("system") != codes.UCUM or value.get("code") != UNITS[sign]:
        raise refused(f"The {sign} must be in UCUM {UNITS[sign]}")
    number: int | float = value["value"]
    if sign in WHOLE_NUMBERS:
        if number != int(number):
            raise refused(f"The {sign} is a whole number")
        return int(number)
    return number


def read_sign(element: dict[str, Any], found: dict[str, Any]) -> None:
    """Put what one Observation (or component) says into `found`, by its code or its value."""
    code = codes.codes_of(element.get("code"))
    value_codes = codes.codes_of(element.get("valueCodeableConcept"))
    if value_codes & OXYGEN.keys():
        found["on_oxygen"] = OXYGEN[next(iter(value_codes & OXYGEN.keys()))]
        return
    for sign, known in SIGNS.items():
        if not code & known:
            continue
        if sign == "blood_pressure":
            for component in codes.listed(element.get("component")):
                if isinstance(component, dict):
                    read_sign(component, found)
        elif sign == "consciousness":
            levels = value_codes & LEVELS.keys()
            if not levels:
                raise refused("Consciousness needs an ACVPU level as valueCodeableConcept")
            found[sign] = LEVELS[next(iter(levels))]
        else:
            found[sign] = quantity_of(sign, element)
        return


def effective(resource: dict[str, Any]) -> datetime:
    value = resource.get("effectiveDateTime")
    if not isinstance(value, str):
        raise refused("Each Observation needs effectiveDateTime")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise refused("effectiveDateTime must be an instant with its offset") from None
    if moment.tzinfo is None:
        raise refused("effectiveDateTime must carry its offset (Z or +hh:mm)")
    return moment


def subject(resource: dict[str, Any]) -> str:
    value = resource.get("subject")
    reference = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(reference, str) or not reference.startswith("Patient/"):
        raise refused("Each Observation needs subject: {reference: Patient/<id>}")
    return ids.encode("Patient", reference_id(reference, "Patient", "subject"))


def identifier_key(identifier: object) -> str | None:
    """The idempotency key of an Identifier: its value, within its system when it has one."""
    if identifier is None:
        return None
    if not isinstance(identifier, dict) or not isinstance(identifier.get("value"), str):
        raise refused("An identifier needs a value", "identifier")
    system = identifier.get("system")
    return f"{system}|{identifier['value']}" if isinstance(system, str) else identifier["value"]


def observation_resource(resource: object) -> dict[str, Any]:
    if not isinstance(resource, dict) or resource.get("resourceType") != "Observation":
        raise refused("Only Observations are recorded here")
    return resource


def recording(resources: list[dict[str, Any]], key: str | None) -> Recording:
    """One recording of the Observations of one patient at one time."""
    if not resources:
        raise refused("Send the vital signs of one recording")
    patients = {subject(r) for r in resources}
    times = {effective(r) for r in resources}
    if len(patients) != 1 or len(times) != 1:
        raise refused("The Observations of one recording share one subject and one "
                      "effectiveDateTime")
    found: dict[str, Any] = {}
    for resource in resources:
        if codes.codes_of(resource.get("code")) & {VITAL_SIGNS_PANEL}:
            for component in codes.listed(resource.get("component")):
                if isinstance(component, dict):
                    read_sign(component, found)
        else:
            read_sign(resource, found)
    missing = [sign for sign in REQUIRED if sign not in found]
    if missing:
        raise refused("NEWS2 needs every parameter; missing: " + ", ".join(missing))
    return Recording(patient_id=patients.pop(), recorded_at=times.pop(), idempotency_key=key,
                     respiration_rate=found["respiration_rate"], spo2=found["spo2"],
                     on_oxygen=found["on_oxygen"], systolic_bp=found["systolic_bp"],
                     pulse=found["pulse"], consciousness=found["consciousness"],
                     temperature=float(found["temperature"]))


def from_observation(body: dict[str, Any]) -> Recording:
    """POST /fhir/Observation: a vital-signs panel with the signs as components."""
    resource = observation_resource(body)
    if not codes.codes_of(resource.get("code")) & {VITAL_SIGNS_PANEL}:
        raise refused("POST a vital-signs panel (LOINC 85353-1) with the signs as components, "
                      "or a transaction Bundle of vital-sign Observations to /fhir", "code")
    identifiers = resource.get("identifier") or [None]
    if not isinstance(identifiers, list):
        raise refused("identifier is a list", "identifier")
    return recording([resource], identifier_key(identifiers[0]))


# The resource (resources.KINDS) that answers for an Observation carrying each sign.
KIND_OF_SIGN = {"respiration_rate": "rr", "spo2": "spo2", "on_oxygen": "o2", "systolic_bp": "bp",
                "pulse": "hr", "temperature": "temp", "consciousness": "acvpu"}


def kind_of(resource: dict[str, Any]) -> str:
    """Which of the recording's resources answers for one Observation of a transaction."""
    found: dict[str, Any] = {}
    read_sign(resource, found)
    if len(found) != 1:
        raise refused("Each Observation of the Bundle carries one NEWS2 vital sign")
    return KIND_OF_SIGN[next(iter(found))]


def from_transaction(body: dict[str, Any]) -> tuple[Recording, list[str]]:
    """POST /fhir: a transaction Bundle of one recording's Observations; and which resource
    answers for each entry (the answer has one entry per entry, in order)."""
    if body.get("resourceType") != "Bundle" or body.get("type") != "transaction":
        raise refused("POST /fhir takes a transaction Bundle", "Bundle.type")
    entries = body.get("entry")
    if not isinstance(entries, list) or not entries:
        raise refused("The Bundle has no entries", "Bundle.entry")
    resources = []
    for entry in entries:
        request = entry.get("request") if isinstance(entry, dict) else None
        if not isinstance(request, dict) or request.get("method") != "POST" or (
                request.get("url") != "Observation"):
            raise refused("Each entry is a POST of an Observation", "Bundle.entry.request")
        resources.append(observation_resource(entry.get("resource")))
    kinds = [kind_of(resource) for resource in resources]
    return recording(resources, identifier_key(body.get("identifier"))), kinds
