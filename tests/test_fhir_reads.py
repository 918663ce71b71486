"""The FHIR face's reads: a recorded observation as vital-sign Observations and the NEWS2
total, matching what GraphQL answers; patients by id and MRN; admissions as Encounters;
searchset paging; every answer a valid FHIR R4 resource."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from tests.factories import TenantKit, admin_fetch
from tests.fhir_client import (
    LOINC,
    SNOMED,
    UCUM,
    coded,
    get,
    read,
    resources_of,
    value_of,
)
from tests.harness import Api, DatabaseUnderTest
from tests.observing import (
    PATIENT_OBSERVATIONS,
    Ward,
    admit,
    make_ward,
    record,
    uuid_of,
    vitals,
)

NOW = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
# Respiration 25 scores 3 (a red score), SpO2 95 scores 1 on scale 1: NEWS2 total 4.
GIVEN = vitals(respirationRate=25, spo2=95, onOxygen=False, systolicBp=118, pulse=88,
               consciousness="ALERT", temperature=37.4)


@pytest.fixture
async def ward(tenant: TenantKit) -> Ward:
    return await make_ward(tenant)


async def recorded(api: Api, ward: Ward, count: int = 1) -> list[dict[str, Any]]:
    """`count` observations of the ward's patient, a minute apart, oldest first."""
    found = []
    for n in range(count):
        at = (NOW - (count - n) * MINUTE).isoformat()
        found.append(await record(api, ward.nurse, ward.patient, GIVEN, recordedAt=at))
    return found


def by_code(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each resource under its first LOINC or SNOMED code (its text when it has none)."""
    found = {}
    for resource in resources:
        concept = resource["code"]
        codes = sorted(coded(concept, LOINC)) or sorted(coded(concept, SNOMED))
        found[codes[0] if codes else concept["text"]] = resource
    return found


async def test_observation_search_returns_vital_signs_and_news2_matching_graphql(
    api: Api, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        await recorded(api, ward)
        patient = str(uuid_of(ward.patient))
        bundle = await read(api, "/fhir/Observation", ward.nurse, {"patient": patient})
        graphql = (await api.data(PATIENT_OBSERVATIONS, {"id": ward.patient}, ward.nurse))
    node = graphql["patient"]["observations"]["edges"][0]["node"]
    assert bundle["type"] == "searchset" and bundle["total"] == 8
    found = by_code(resources_of(bundle))
    assert value_of(found["9279-1"]) == node["respirationRate"] == 25
    assert value_of(found["2708-6"]) == node["spo2"] == 95
    assert coded(value_of(found["Air or oxygen"]), SNOMED) == {"722742002"}  # room air
    assert value_of(found["85354-9"]) == node["systolicBp"] == 118
    assert found["85354-9"]["component"][0]["code"]["coding"][0]["code"] == "8480-6"
    assert value_of(found["8867-4"]) == node["pulse"] == 88
    assert value_of(found["8310-5"]) == node["temperature"] == 37.4
    assert found["8310-5"]["valueQuantity"]["code"] == "Cel"
    assert found["8310-5"]["valueQuantity"]["system"] == UCUM
    assert coded(value_of(found["1104441000000107"]), SNOMED) == {"248234008"}  # alert
    total = found["1104051000000101"]
    assert total["valueQuantity"]["value"] == node["news2"]["total"] == 4
    assert total["valueQuantity"]["code"] == "{ScoreOf}"
    assert node["news2"]["risk"] in total["interpretation"][0]["text"]
    assert {d["reference"] for d in total["derivedFrom"]} == {
        f"Observation/{r['id']}" for r in resources_of(bundle) if r is not total}
    assert sorted(c["valueInteger"] for c in total["component"]) == sorted(
        p["score"] for p in node["news2"]["parameters"])
    for resource in resources_of(bundle):
        assert resource["subject"] == {"reference": f"Patient/{patient}"}
        assert datetime.fromisoformat(resource["effectiveDateTime"]) == datetime.fromisoformat(
            node["recordedAt"])


async def test_vital_signs_category_leaves_out_the_news2_total_and_survey_keeps_only_it(
    api: Api, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        await recorded(api, ward)
    patient = str(uuid_of(ward.patient))
    vital = await read(api, "/fhir/Observation", ward.nurse,
                       {"patient": patient, "category": "vital-signs"})
    survey = await read(api, "/fhir/Observation", ward.nurse,
                        {"patient": f"Patient/{patient}", "category": "survey"})
    assert len(resources_of(vital)) == 7
    assert all(r["category"][0]["coding"][0]["code"] == "vital-signs"
               for r in resources_of(vital))
    profiled = [r["id"].rpartition("-")[2] for r in resources_of(vital)
                if r.get("meta", {}).get("profile") == [
                    "http://hl7.org/fhir/StructureDefinition/vitalsigns"]]
    assert profiled == ["rr", "spo2", "bp", "hr", "temp"]
    assert [coded(r["code"], SNOMED) for r in resources_of(survey)] == [{"1104051000000101"}]


async def test_observation_read_by_id_is_the_resource_the_search_returned(
    api: Api, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        await recorded(api, ward)
    bundle = await read(api, "/fhir/Observation", ward.clinician,
                        {"patient": str(uuid_of(ward.patient))})
    for resource in resources_of(bundle):
        assert await read(api, f"/fhir/Observation/{resource['id']}", ward.clinician) == resource


async def test_paging_walks_every_resource_once_newest_first_with_next_links(
    api: Api, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        observations = await recorded(api, ward, 3)
        params = {"patient": str(uuid_of(ward.patient)), "category": "vital-signs",
                  "_count": "5", "_sort": "-date"}
        page = await read(api, "/fhir/Observation", ward.nurse, params)
        seen, sizes = [], []
        while True:
            sizes.append(len(resources_of(page)))
            seen += [r["id"] for r in resources_of(page)]
            links = {link["relation"]: link["url"] for link in page["link"]}
            if "next" not in links:
                break
            page = await read(api, links["next"].removeprefix(api.base_url), ward.nurse)
    assert sizes == [5, 5, 5, 5, 1]
    expected = [f"{uuid_of(o['id'])}-{kind}" for o in reversed(observations)
                for kind in ("rr", "spo2", "o2", "bp", "hr", "temp", "acvpu")]
    assert seen == expected


async def test_date_ge_keeps_observations_recorded_at_or_after_the_instant(
    api: Api, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        observations = await recorded(api, ward, 3)
        newest_two = datetime.fromisoformat(observations[1]["recordedAt"])
        bundle = await read(api, "/fhir/Observation", ward.nurse, {
            "patient": str(uuid_of(ward.patient)), "category": "survey",
            "date": f"ge{newest_two.isoformat()}"})
    assert [r["id"] for r in resources_of(bundle)] == [
        f"{uuid_of(o['id'])}-news2" for o in (observations[2], observations[1])]


async def test_date_lt_keeps_observations_recorded_before_the_instant(
    api: Api, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        observations = await recorded(api, ward, 3)
        newest = datetime.fromisoformat(observations[2]["recordedAt"])
        bundle = await read(api, "/fhir/Observation", ward.nurse, {
            "patient": str(uuid_of(ward.patient)), "category": "survey",
            "date": f"lt{newest.isoformat()}"})
    assert [r["id"] for r in resources_of(bundle)] == [
        f"{uuid_of(o['id'])}-news2" for o in (observations[1], observations[0])]


async def test_patient_read_and_identifier_search_match_graphql(
    api: Api, tenant: TenantKit
) -> None:
    facility = tenant.facilities["DHK"]
    patient_id = await tenant.patient(facility, mrn="MRN-FHIR-1", given="Grace",
                                      family="Hopper")
    await tenant.patient(facility, mrn="MRN-FHIR-10")  # an MRN the first one prefixes
    graphql = (await api.data("query($id: ID!) { patient(id: $id) { mrn givenName familyName "
                              "birthDate } }", {"id": patient_id}, tenant.admin_token))["patient"]
    resource = await read(api, f"/fhir/Patient/{uuid_of(patient_id)}", tenant.admin_token)
    assert resource["identifier"][0]["value"] == graphql["mrn"]
    assert resource["name"][0] == {"use": "official", "family": graphql["familyName"],
                                   "given": [graphql["givenName"]]}
    assert resource["birthDate"] == graphql["birthDate"]
    for identifier in ("MRN-FHIR-1", "urn:wardgraph:mrn|MRN-FHIR-1"):
        bundle = await read(api, "/fhir/Patient", tenant.admin_token,
                            {"identifier": identifier})
        assert resources_of(bundle) == [resource]
    other_system = await read(api, "/fhir/Patient", tenant.admin_token,
                              {"identifier": "urn:elsewhere|MRN-FHIR-1"})
    assert resources_of(other_system) == []


async def test_encounter_carries_ward_and_bed_as_locations_and_the_admission_period(
    api: Api, ward: Ward
) -> None:
    admitted_at = NOW - 60 * MINUTE
    with freeze_time(NOW, real_asyncio=True):
        admission = await admit(api, ward.kit, ward.patient, ward.beds[0], admitted_at)
        bundle = await read(api, "/fhir/Encounter", ward.nurse,
                            {"patient": str(uuid_of(ward.patient))})
    [encounter] = resources_of(bundle)
    assert encounter["id"] == str(uuid_of(admission))
    assert encounter["status"] == "in-progress"
    assert encounter["class"]["code"] == "IMP"
    assert datetime.fromisoformat(encounter["period"]["start"]) == admitted_at
    assert [(loc["location"]["display"], loc["physicalType"]["coding"][0]["code"],
             loc["status"]) for loc in encounter["location"]] == [
        ("Medical", "wa", "active"), ("A-1", "bd", "active")]


async def test_fhir_reads_are_phi_reads_in_the_audit_trail(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        [observation] = await recorded(api, ward)
        response = await get(api, "/fhir/Observation", ward.nurse,
                             {"patient": str(uuid_of(ward.patient)), "category": "survey"})
    events = await admin_fetch(database.admin_url, """
        select o->>'operation', o->>'objectType', (o->>'objectId')::uuid
        from app.audit_events e cross join lateral jsonb_array_elements(e.objects) o
        where e.tenant_id = $1 and e.request_id = $2""", ward.kit.tenant_id,
        response.headers["x-request-id"])
    assert [tuple(e) for e in events] == [("READ", "Observation", uuid_of(observation["id"]))]


async def test_capability_statement_names_what_is_served(api: Api) -> None:
    statement = await read(api, "/fhir/metadata", None)
    assert statement["resourceType"] == "CapabilityStatement"
    served = {r["type"]: {i["code"] for i in r["interaction"]}
              for r in statement["rest"][0]["resource"]}
    assert served == {"Patient": {"read", "search-type"}, "Encounter": {"search-type"},
                      "Observation": {"read", "search-type", "create"}}
    assert "system/Observation.rs = observations:read" in (
        statement["rest"][0]["security"]["description"])
