"""Who reads and writes what through the FHIR face: every role and partner scope set against
every interaction, answered as GraphQL answers it (the same resolvers and RLS), every answer a
valid FHIR resource; foreign and absent ids alike; the rate limit /graphql has."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from freezegun import freeze_time

from tests.factories import TenantKit
from tests.fhir_client import get, issue_code, post, vital_signs_bundle
from tests.harness import Api, DatabaseUnderTest, LiveServer
from tests.observing import Ward, make_ward, record, uuid_of, vitals
from tests.serving import live_server
from wardgraph.auth.claims import Role
from wardgraph.config import Limits

NOW = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)

READ = ("patient", "encounters", "observations", "observation")
# What each caller is answered, interaction by interaction: the statuses GraphQL's codes take
# (FORBIDDEN 403, NOT_FOUND 404). "write" records a transaction Bundle: a transaction that
# succeeds answers 200, its entries 201.
EVERYTHING = {"patient": 200, "encounters": 200, "observations": 200, "observation": 200}
EXPECTED: dict[str, dict[str, int]] = {
    "ADMIN": {**EVERYTHING, "write": 403},
    "CLINICIAN": {**EVERYTHING, "write": 200},
    "NURSE": {**EVERYTHING, "write": 200},
    "BILLING": {"patient": 200, "encounters": 200, "observations": 403, "observation": 403,
                "write": 403},
    "AUDITOR": {"patient": 403, "encounters": 403, "observations": 403, "observation": 403,
                "write": 403},
    "partner:": {"patient": 403, "encounters": 403, "observations": 403, "observation": 403,
                 "write": 403},
    "partner:patients:read": {"patient": 200, "encounters": 403, "observations": 403,
                              "observation": 403, "write": 403},
    "partner:admissions:read": {"patient": 403, "encounters": 200, "observations": 403,
                                "observation": 403, "write": 403},
    "partner:observations:read": {"patient": 403, "encounters": 403, "observations": 200,
                                  "observation": 200, "write": 403},
    # Recording reads the patient under the partner's policies: without patients:read the
    # patient is not there to record for (GraphQL's recordObservation answers NOT_FOUND too).
    "partner:observations:write": {"patient": 403, "encounters": 403, "observations": 403,
                                   "observation": 403, "write": 404},
    "partner:patients:read,observations:write": {"patient": 200, "encounters": 403,
                                                 "observations": 403, "observation": 403,
                                                 "write": 200},
    "partner:patients:read,admissions:read,observations:read,observations:write": {
        **EVERYTHING, "write": 200},
}


async def token_of(kit: TenantKit, caller: str) -> str:
    if caller.startswith("partner:"):
        scopes = caller.removeprefix("partner:")
        return await kit.partner(scopes.split(",") if scopes else [])
    return await kit.user(Role(caller))


async def answers(api: Api, ward: Ward, token: str, observation_id: str) -> dict[str, int]:
    patient = str(uuid_of(ward.patient))
    found = {
        "patient": await get(api, f"/fhir/Patient/{patient}", token),
        "encounters": await get(api, "/fhir/Encounter", token, {"patient": patient}),
        "observations": await get(api, "/fhir/Observation", token, {"patient": patient}),
        "observation": await get(api, f"/fhir/Observation/{observation_id}-news2", token),
        "write": await post(api, "/fhir", token, vital_signs_bundle(
            patient, NOW.isoformat(), vitals(), identifier=secrets.token_hex(8))),
    }
    for response in found.values():
        if response.status_code >= 400:
            assert response.json()["resourceType"] == "OperationOutcome"
    return {name: response.status_code for name, response in found.items()}


async def test_every_role_and_scope_set_is_answered_as_graphql_answers_it(
    api: Api, tenant: TenantKit
) -> None:
    ward = await make_ward(tenant)
    with freeze_time(NOW, real_asyncio=True):
        observation = await record(api, ward.nurse, ward.patient)
        observation_id = str(uuid_of(observation["id"]))
        answered = {caller: await answers(api, ward, await token_of(tenant, caller),
                                          observation_id) for caller in EXPECTED}
    assert answered == EXPECTED


async def test_patients_read_alone_cannot_read_vital_signs_and_is_told_the_smart_scope(
    api: Api, tenant: TenantKit
) -> None:
    ward = await make_ward(tenant)
    token = await tenant.partner(["patients:read"])
    response = await get(api, "/fhir/Observation", token,
                         {"patient": str(uuid_of(ward.patient))})
    assert response.status_code == 403
    assert issue_code(response) == "FORBIDDEN"
    assert "system/Observation.rs" in response.json()["issue"][0]["diagnostics"]


@pytest.mark.parametrize("path", [
    pytest.param("/fhir/Patient/{patient}", id="patient"),
    pytest.param("/fhir/Observation/{observation}-rr", id="observation"),
])
async def test_foreign_and_nonexistent_ids_answer_byte_identical_404s(
    api: Api, tenant: TenantKit, other_tenant: TenantKit, path: str
) -> None:
    ward, theirs = await make_ward(tenant), await make_ward(other_tenant)
    with freeze_time(NOW, real_asyncio=True):
        observation = await record(api, theirs.nurse, theirs.patient)
    foreign = path.format(patient=uuid_of(theirs.patient), observation=uuid_of(observation["id"]))
    absent = path.format(patient="00000000-0000-4000-8000-000000000000",
                         observation="00000000-0000-4000-8000-000000000000")
    malformed = path.format(patient="not-an-id", observation="not-an-id")
    bodies = []
    for target in (foreign, absent, malformed):
        response = await get(api, target, ward.clinician)
        assert response.status_code == 404
        bodies.append(response.content)
    assert bodies[0] == bodies[1] == bodies[2]
    assert issue_code(response) == "NOT_FOUND"


async def test_foreign_patients_observation_search_is_empty_like_an_absent_patients(
    api: Api, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    ward, theirs = await make_ward(tenant), await make_ward(other_tenant)
    with freeze_time(NOW, real_asyncio=True):
        await record(api, theirs.nurse, theirs.patient)
    foreign = await get(api, "/fhir/Observation", ward.nurse,
                        {"patient": str(uuid_of(theirs.patient))})
    assert foreign.status_code == 200 and foreign.json().get("entry", []) == []


async def test_a_request_without_a_token_gets_401_and_metadata_needs_none(api: Api) -> None:
    response = await get(api, "/fhir/Patient/00000000-0000-4000-8000-000000000000", None)
    assert response.status_code == 401
    assert issue_code(response) == "UNAUTHENTICATED"
    bad = await get(api, "/fhir/Observation", "not-a-token", {"patient": "x"})
    assert bad.status_code == 401
    assert (await get(api, "/fhir/metadata", None)).status_code == 200


@pytest.mark.parametrize("params", [
    pytest.param({}, id="no-patient"),
    pytest.param({"patient": "not-an-id"}, id="bad-patient"),
    pytest.param({"patient": "{p}", "_count": "0"}, id="count-0"),
    pytest.param({"patient": "{p}", "_count": "101"}, id="count-over-max"),
    pytest.param({"patient": "{p}", "date": "ge2025-03-01"}, id="date-without-offset"),
    pytest.param({"patient": "{p}", "date": "eq2025-03-01T00:00:00Z"}, id="date-eq"),
    pytest.param({"patient": "{p}", "_sort": "date"}, id="sort-ascending"),
    pytest.param({"patient": "{p}", "code": "9279-1"}, id="unknown-parameter"),
    pytest.param({"patient": "{p}", "category": "laboratory"}, id="other-category"),
    pytest.param({"patient": "{p}", "_page": "forged.cursor"}, id="forged-page"),
])
async def test_bad_search_parameters_get_400_operation_outcomes(
    api: Api, tenant: TenantKit, params: dict[str, str]
) -> None:
    ward = await make_ward(tenant)
    given = {k: v.format(p=uuid_of(ward.patient)) for k, v in params.items()}
    response = await get(api, "/fhir/Observation", ward.nurse, given)
    assert response.status_code == 400, response.text
    assert response.json()["issue"][0]["code"] in ("invalid", "not-supported")


@pytest.mark.parametrize(("method", "path"), [
    pytest.param("GET", "/fhir/Condition", id="unknown-type"),
    pytest.param("PUT", "/fhir/Observation/x-rr", id="update"),
    pytest.param("DELETE", "/fhir/Patient/x", id="delete"),
])
async def test_what_is_not_served_answers_an_operation_outcome(
    api: Api, method: str, path: str
) -> None:
    response = await api.client.request(method, path)
    assert response.status_code == 404
    assert response.json()["issue"][0]["code"] == "not-supported"


RATE = 3


@pytest.fixture(scope="module")
async def rate_limited(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    async with live_server(database.api_url,
                           limits=Limits(rate_limit_per_minute=RATE)) as pair:
        yield pair


async def test_fhir_requests_count_against_the_callers_rate_limit(
    rate_limited: tuple[LiveServer, Api], tenant: TenantKit
) -> None:
    api = rate_limited[1]
    ward = await make_ward(tenant)
    params: dict[str, Any] = {"patient": str(uuid_of(ward.patient))}
    statuses = [(await get(api, "/fhir/Observation", ward.nurse, params)).status_code
                for _ in range(RATE)]
    refused = await get(api, "/fhir/Observation", ward.nurse, params)
    assert statuses == [200] * RATE
    assert refused.status_code == 429
    assert issue_code(refused) == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) >= 1
