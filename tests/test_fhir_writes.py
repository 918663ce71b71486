"""Recording vital signs through the FHIR face: a monitor's transaction Bundle or one
vital-signs panel, recorded exactly as recordObservation records it (scored, escalated,
audited, idempotent on the identifier), and refused whole when anything is wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from freezegun import freeze_time

from tests.factories import TenantKit, admin_fetch
from tests.fhir_client import (
    SNOMED,
    coded,
    issue_code,
    post,
    resources_of,
    vital_signs_bundle,
    vital_signs_panel,
)
from tests.harness import Api, DatabaseUnderTest
from tests.observing import (
    PATIENT_OBSERVATIONS,
    Ward,
    escalation_rows,
    make_ward,
    observation_rows,
    uuid_of,
    vitals,
)

NOW = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)
AT = (NOW - timedelta(minutes=5)).isoformat()
# Respiration 25 scores 3: a red score, which escalates.
RED = vitals(respirationRate=25)


@pytest.fixture
async def ward(tenant: TenantKit) -> Ward:
    return await make_ward(tenant)


async def test_transaction_bundle_records_scores_and_escalates_like_record_observation(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    patient = str(uuid_of(ward.patient))
    partner = await ward.kit.partner(["patients:read", "observations:write"])
    with freeze_time(NOW, real_asyncio=True):
        response = await post(api, "/fhir", partner,
                              vital_signs_bundle(patient, AT, RED, identifier="monitor-1"))
        graphql = await api.data(PATIENT_OBSERVATIONS, {"id": ward.patient}, ward.nurse)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "transaction-response"
    assert [e["response"]["status"] for e in bundle["entry"]] == ["201 Created"] * 7
    [row] = await observation_rows(database.admin_url, ward.kit.tenant_id)
    assert [r["id"] for r in resources_of(bundle)] == [
        f"{row['id']}-{kind}" for kind in ("rr", "spo2", "o2", "bp", "hr", "temp", "acvpu")]
    assert (row["respiration_rate"], row["news2_total"], row["risk"], row["news2_red_score"],
            row["recorded_by_partner"] is not None) == (25, 3, "LOW_MEDIUM", True, True)
    assert row["recorded_at"] == datetime.fromisoformat(AT)
    [escalation] = await escalation_rows(database.admin_url, ward.kit.tenant_id)
    assert escalation["observation_id"] == row["id"]
    node = graphql["patient"]["observations"]["edges"][0]["node"]
    assert uuid_of(node["id"]) == row["id"]
    assert node["news2"]["total"] == 3 and node["news2"]["redScore"] is True
    audit = await admin_fetch(database.admin_url, """
        select o->>'operation' as operation
        from app.audit_events e cross join lateral jsonb_array_elements(e.objects) o
        where e.tenant_id = $1 and (o->>'objectId')::uuid = $2 and e.actor_type = 'PARTNER'""",
        ward.kit.tenant_id, row["id"])
    assert [a["operation"] for a in audit] == ["CREATE"]


async def test_resending_a_bundle_with_its_identifier_records_nothing_twice(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    patient = str(uuid_of(ward.patient))
    bundle = vital_signs_bundle(patient, AT, RED, identifier="monitor-2")
    with freeze_time(NOW, real_asyncio=True):
        first = await post(api, "/fhir", ward.nurse, bundle)
        again = await post(api, "/fhir", ward.nurse, bundle)
        other = await post(api, "/fhir", ward.nurse, vital_signs_bundle(
            patient, AT, vitals(pulse=120), identifier="monitor-2"))
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK"] * 7
    assert resources_of(again.json()) == resources_of(first.json())
    assert other.status_code == 400 and issue_code(other) == "VALIDATION_FAILED"
    assert len(await observation_rows(database.admin_url, ward.kit.tenant_id)) == 1
    assert len(await escalation_rows(database.admin_url, ward.kit.tenant_id)) == 1


async def test_posting_a_vital_signs_panel_answers_201_with_the_news2_total(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    patient = str(uuid_of(ward.patient))
    panel = vital_signs_panel(patient, AT, vitals(consciousness="NEW_CONFUSION"),
                              identifier="panel-1")
    with freeze_time(NOW, real_asyncio=True):
        created = await post(api, "/fhir/Observation", ward.clinician, panel)
        retried = await post(api, "/fhir/Observation", ward.clinician, panel)
    assert created.status_code == 201, created.text
    total = created.json()
    assert coded(total["code"], SNOMED) == {"1104051000000101"}
    assert total["valueQuantity"]["value"] == 3  # new confusion scores 3
    assert created.headers["location"].endswith(f"/fhir/Observation/{total['id']}")
    assert retried.status_code == 200 and retried.json() == total
    [row] = await observation_rows(database.admin_url, ward.kit.tenant_id)
    assert row["consciousness_text"] == "NEW_CONFUSION"


def without_sign(bundle: dict[str, Any], loinc: str) -> dict[str, Any]:
    bundle["entry"] = [e for e in bundle["entry"]
                       if e["resource"]["code"].get("coding", [{}])[0].get("code") != loinc]
    return bundle


def with_change(bundle: dict[str, Any], index: int, **changes: Any) -> dict[str, Any]:
    bundle["entry"][index]["resource"].update(changes)
    return bundle


def with_unit(bundle: dict[str, Any], unit: str) -> dict[str, Any]:
    bundle["entry"][5]["resource"]["valueQuantity"]["code"] = unit  # the temperature
    return bundle


PATIENT = "{patient}"


@pytest.mark.parametrize("broken", [
    pytest.param(lambda b: without_sign(b, "8867-4"), id="missing-pulse"),
    pytest.param(lambda b: with_change(b, 2, subject={"reference": "Patient/" + "0" * 32}),
                 id="two-subjects"),
    pytest.param(lambda b: with_change(b, 1, effectiveDateTime="2025-03-01T03:00:00Z"),
                 id="two-times"),
    pytest.param(lambda b: with_unit(b, "[degF]"), id="fahrenheit"),
    pytest.param(lambda b: {**b, "type": "batch"}, id="batch"),
    pytest.param(lambda b: with_change(b, 0, valueQuantity={
        "value": 16.5, "system": "http://unitsofmeasure.org", "code": "/min"}),
        id="fractional-rate"),
    pytest.param(lambda b: with_change(b, 0, valueQuantity={
        "value": 500, "system": "http://unitsofmeasure.org", "code": "/min"}),
        id="impossible-rate"),
])
async def test_a_broken_bundle_is_refused_whole_and_writes_nothing(
    api: Api, database: DatabaseUnderTest, ward: Ward, broken: Any
) -> None:
    bundle = broken(vital_signs_bundle(str(uuid_of(ward.patient)), AT, RED))
    with freeze_time(NOW, real_asyncio=True):
        response = await post(api, "/fhir", ward.nurse, bundle)
    assert response.status_code == 400, response.text
    assert issue_code(response) == "VALIDATION_FAILED"
    assert await observation_rows(database.admin_url, ward.kit.tenant_id) == []


async def test_recording_in_the_future_or_for_an_unseen_patient_is_refused(
    api: Api, ward: Ward, other_tenant: TenantKit
) -> None:
    theirs = await make_ward(other_tenant)
    with freeze_time(NOW, real_asyncio=True):
        future = await post(api, "/fhir", ward.nurse, vital_signs_bundle(
            str(uuid_of(ward.patient)), (NOW + timedelta(hours=1)).isoformat(), RED))
        foreign = await post(api, "/fhir", ward.nurse, vital_signs_bundle(
            str(uuid_of(theirs.patient)), AT, RED))
    assert future.status_code == 400
    assert foreign.status_code == 404 and issue_code(foreign) == "NOT_FOUND"


async def test_a_body_that_is_not_a_json_resource_gets_400(api: Api, ward: Ward) -> None:
    response = await api.client.post("/fhir/Observation", content=b"{not json", headers={
        "Authorization": f"Bearer {ward.nurse}", "Content-Type": "application/fhir+json"})
    assert response.status_code == 400
    assert issue_code(response) == "VALIDATION_FAILED"
    single = await post(api, "/fhir/Observation", ward.nurse, {"resourceType": "Patient"})
    assert single.status_code == 400


@pytest.mark.parametrize("body", [
    pytest.param([], id="array"),
    pytest.param({"resourceType": "Bundle", "type": "transaction", "entry": 5}, id="entry-int"),
    pytest.param({"resourceType": "Bundle", "type": "transaction", "entry": [5]},
                 id="entry-item-int"),
    pytest.param({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "POST", "url": "Observation"},
         "resource": {"resourceType": "Observation", "code": {"coding": 7},
                      "component": 3}}]}, id="coding-and-component-ints"),
    pytest.param({"resourceType": "Bundle", "type": "transaction", "identifier": "x",
                  "entry": []}, id="identifier-string"),
])
async def test_hostile_transaction_bodies_get_400_never_500(
    api: Api, ward: Ward, body: Any
) -> None:
    response = await post(api, "/fhir", ward.nurse, body)
    assert response.status_code == 400, response.text
    assert issue_code(response) == "VALIDATION_FAILED"


@pytest.mark.parametrize("changes", [
    pytest.param({"component": 3}, id="component-int"),
    pytest.param({"identifier": {"value": "x"}}, id="identifier-not-a-list"),
    pytest.param({"identifier": [{"value": 5}]}, id="identifier-value-int"),
    pytest.param({"subject": {"reference": "Patient/not-a-uuid"}}, id="subject-not-a-uuid"),
    pytest.param({"effectiveDateTime": "yesterday"}, id="time-not-an-instant"),
    pytest.param({"effectiveDateTime": "1899-12-31T23:00:00Z"}, id="time-before-1900"),
])
async def test_hostile_panels_get_400_never_500(
    api: Api, ward: Ward, changes: dict[str, Any]
) -> None:
    panel = {**vital_signs_panel(str(uuid_of(ward.patient)), AT, RED), **changes}
    with freeze_time(NOW, real_asyncio=True):
        response = await post(api, "/fhir/Observation", ward.nurse, panel)
    assert response.status_code == 400, response.text
    assert issue_code(response) == "VALIDATION_FAILED"
