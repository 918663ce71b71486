"""The FHIR face over HTTP, and every answer checked against the FHIR R4 models of
fhir.resources (its R4B module): a resource, a Bundle and each of its entries, or an
OperationOutcome."""

from __future__ import annotations

from typing import Any

import httpx
from fhir.resources.R4B import get_fhir_model_class

from tests.harness import Api

FHIR_JSON = "application/fhir+json"


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource, once the R4 model of its type accepts it (and each entry's resource)."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry", ()):
        if "resource" in entry:
            validated(entry["resource"])
    return resource


def headers_for(token: str | None) -> dict[str, str]:
    headers = {"Accept": FHIR_JSON}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return headers


async def get(api: Api, path: str, token: str | None,
              params: dict[str, Any] | None = None) -> httpx.Response:
    """A GET whose answer, whatever its status, is a valid FHIR resource."""
    response = await api.client.get(path, params=params, headers=headers_for(token))
    assert response.headers["content-type"].startswith(FHIR_JSON), response.text
    validated(response.json())
    return response


async def post(api: Api, path: str, token: str | None, body: Any) -> httpx.Response:
    response = await api.client.post(path, json=body, headers={
        **headers_for(token), "Content-Type": FHIR_JSON})
    assert response.headers["content-type"].startswith(FHIR_JSON), response.text
    validated(response.json())
    return response


async def read(api: Api, path: str, token: str | None,
               params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body of a read that must succeed."""
    response = await get(api, path, token, params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def resources_of(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry["resource"] for entry in bundle.get("entry", ())]


def issue_code(response: httpx.Response) -> str:
    """The wardgraph error code an OperationOutcome carries."""
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    code: str = body["issue"][0]["details"]["text"]
    return code


def coded(concept: dict[str, Any], system: str) -> set[str]:
    return {c["code"] for c in concept.get("coding", ()) if c["system"] == system}


def value_of(resource: dict[str, Any]) -> Any:
    """A vital sign's value as GraphQL gives it."""
    if "valueQuantity" in resource:
        return resource["valueQuantity"]["value"]
    if "component" in resource:
        return resource["component"][0]["valueQuantity"]["value"]
    return resource["valueCodeableConcept"]


LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


def vital_signs_bundle(patient_uuid: str, at: str, given: dict[str, Any],
                       identifier: str | None = None) -> dict[str, Any]:
    """A transaction Bundle as a monitor sends it: one Observation per sign (GraphQL names in
    `given`, as tests/observing.py's vitals)."""
    def sign(code: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
        return {"request": {"method": "POST", "url": "Observation"}, "resource": {
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                "code": "vital-signs"}]}],
            "code": code, "subject": {"reference": f"Patient/{patient_uuid}"},
            "effectiveDateTime": at, **value}}

    def quantity(value: Any, unit: str) -> dict[str, Any]:
        return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}

    levels = {"ALERT": "248234008", "NEW_CONFUSION": "130987000", "VOICE": "300202002",
              "PAIN": "450847001", "UNRESPONSIVE": "422768004"}
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "transaction", "entry": [
        sign({"coding": [{"system": LOINC, "code": "9279-1"}]},
             quantity(given["respirationRate"], "/min")),
        sign({"coding": [{"system": LOINC, "code": "59408-5"}]}, quantity(given["spo2"], "%")),
        sign({"text": "Air or oxygen"}, {"valueCodeableConcept": {"coding": [{
            "system": SNOMED, "code": "371825009" if given["onOxygen"] else "722742002"}]}}),
        sign({"coding": [{"system": LOINC, "code": "85354-9"}]}, {"component": [{
            "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
            **quantity(given["systolicBp"], "mm[Hg]")}]}),
        sign({"coding": [{"system": LOINC, "code": "8867-4"}]}, quantity(given["pulse"], "/min")),
        sign({"coding": [{"system": LOINC, "code": "8310-5"}]},
             quantity(given["temperature"], "Cel")),
        sign({"coding": [{"system": SNOMED, "code": "1104441000000107"}]},
             {"valueCodeableConcept": {"coding": [{
                 "system": SNOMED, "code": levels[given["consciousness"]]}]}}),
    ]}
    if identifier is not None:
        bundle["identifier"] = {"system": "urn:example:monitor", "value": identifier}
    return bundle


def vital_signs_panel(patient_uuid: str, at: str, given: dict[str, Any],
                      identifier: str | None = None) -> dict[str, Any]:
    """The same signs as the components of one vital-signs panel (POST /fhir/Observation)."""
    bundle = vital_signs_bundle(patient_uuid, at, given)
    components = []
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if "component" in resource:
            components += resource["component"]
        else:
            components.append({key: resource[key] for key in resource
                               if key in ("code", "valueQuantity", "valueCodeableConcept")})
    panel: dict[str, Any] = {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85353-1"}]},
        "subject": {"reference": f"Patient/{patient_uuid}"}, "effectiveDateTime": at,
        "component": components}
    if identifier is not None:
        panel["identifier"] = [{"value": identifier}]
    return panel
