"""NEWS2 through the API: the calculator, impossible values refused per field, the stored score
always the module's, and the SpO2 scale a clinician sets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import TenantKit
from tests.harness import Api, DatabaseUnderTest, settings_for_tests
from tests.observing import (
    CALCULATE,
    NORMAL,
    PATIENT_OBSERVATIONS,
    RECORD,
    SET_SPO2_SCALE,
    as_news2,
    error_of,
    escalation_rows,
    observation_rows,
    record,
    record_input,
    uuid_of,
    vitals,
)
from tests.sql_roles import as_role
from wardgraph import ids, news2
from wardgraph.auth.claims import Claims, Role
from wardgraph.context import AppState, RequestContext
from wardgraph.db.pool import CountingConnection
from wardgraph.schema import build_schema

NOW = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)


def expected_news2(given: dict[str, Any], scale: str = "SCALE_1") -> dict[str, Any]:
    score = news2.score(as_news2(given), news2.Spo2Scale(scale))
    return {"total": score.total, "risk": score.risk.value, "redScore": score.red_score,
            "parameters": [{"name": p.name, "value": p.value, "score": p.score}
                           for p in score.parameters],
            "monitoring": score.monitoring, "response": score.response}


def spo2_score(news2_result: dict[str, Any]) -> int:
    (parameter,) = [p for p in news2_result["parameters"] if p["name"] == "spo2"]
    score: int = parameter["score"]
    return score


async def set_scale(api: Api, token: str, patient: str, scale: str) -> dict[str, Any]:
    data = await api.data(SET_SPO2_SCALE, {"input": {"patientId": patient, "scale": scale}},
                          token)
    patient_data: dict[str, Any] = data["setSpo2Scale"]
    return patient_data


# -- the calculator ----------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "scale"), [
    pytest.param(NORMAL, "SCALE_1", id="normal"),
    pytest.param(vitals(respirationRate=25, spo2=91, onOxygen=True, pulse=131), "SCALE_1",
                 id="high"),
    pytest.param(vitals(spo2=97, onOxygen=True), "SCALE_2", id="scale-2-on-oxygen"),
    pytest.param(vitals(spo2=88, temperature=35.05), "SCALE_2", id="scale-2-on-air"),
])
async def test_calculator_scores_like_the_module_and_stores_nothing(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, given: dict[str, Any], scale: str
) -> None:
    nurse = await tenant.user(Role.NURSE)
    data = await api.data(CALCULATE, {"vitals": given, "scale": scale}, nurse)
    assert data["news2"] == expected_news2(given, scale)
    assert await observation_rows(database.admin_url, tenant.tenant_id) == []
    assert await escalation_rows(database.admin_url, tenant.tenant_id) == []


async def test_calculator_defaults_to_scale_1(api: Api, tenant: TenantKit) -> None:
    given = vitals(spo2=97, onOxygen=True)
    data = await api.data("query($v: VitalsInput!) { news2(vitals: $v) { total } }",
                          {"v": given}, tenant.admin_token)
    assert data["news2"]["total"] == expected_news2(given)["total"]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
async def test_any_authenticated_caller_may_use_the_calculator(
    api: Api, tenant: TenantKit, role: Role
) -> None:
    token = (await tenant.partner([]) if role is Role.PARTNER
             else tenant.admin_token if role is Role.ADMIN else await tenant.user(role))
    data = await api.data(CALCULATE, {"vitals": NORMAL}, token)
    assert data["news2"]["total"] == 0


async def test_calculator_needs_authentication(api: Api) -> None:
    assert await api.error_code(CALCULATE, {"vitals": NORMAL}) == "UNAUTHENTICATED"


# -- impossible values -------------------------------------------------------------------------

IMPOSSIBLE = [
    pytest.param("respirationRate", -1, id="respiration-negative"),
    pytest.param("respirationRate", 81, id="respiration-81"),
    pytest.param("spo2", 101, id="spo2-101"),
    pytest.param("spo2", -1, id="spo2-negative"),
    pytest.param("systolicBp", 19, id="systolic-19"),
    pytest.param("systolicBp", 301, id="systolic-301"),
    pytest.param("pulse", -1, id="pulse-negative"),
    pytest.param("pulse", 301, id="pulse-301"),
    pytest.param("temperature", 80.0, id="temperature-80"),
    pytest.param("temperature", 24.94, id="temperature-24.94"),
    pytest.param("temperature", 45.05, id="temperature-45.05-rounds-to-45.1"),
    pytest.param("temperature", -37.0, id="temperature-negative"),
]


@pytest.mark.parametrize(("field", "value"), IMPOSSIBLE)
async def test_an_impossible_vital_is_refused_naming_the_field_and_nothing_is_stored(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, field: str, value: Any
) -> None:
    nurse = await tenant.user(Role.NURSE)
    patient = await tenant.patient(tenant.facilities["DHK"])
    error = await error_of(api, RECORD, record_input(patient, vitals(**{field: value})), nurse)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": field}
    assert field in error["message"]
    assert await observation_rows(database.admin_url, tenant.tenant_id) == []
    assert await escalation_rows(database.admin_url, tenant.tenant_id) == []


@pytest.mark.parametrize(("field", "value"), IMPOSSIBLE)
async def test_the_calculator_refuses_an_impossible_vital_naming_the_field(
    api: Api, tenant: TenantKit, field: str, value: Any
) -> None:
    error = await error_of(api, CALCULATE, {"vitals": vitals(**{field: value})},
                           tenant.admin_token)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": field}


@pytest.mark.parametrize(("field", "value"), [
    pytest.param("respirationRate", 0, id="respiration-0"),
    pytest.param("respirationRate", 80, id="respiration-80"),
    pytest.param("spo2", 100, id="spo2-100"),
    pytest.param("systolicBp", 20, id="systolic-20"),
    pytest.param("systolicBp", 300, id="systolic-300"),
    pytest.param("pulse", 300, id="pulse-300"),
    pytest.param("temperature", 24.95, id="temperature-24.95-rounds-to-25.0"),
    pytest.param("temperature", 45.04, id="temperature-45.04-rounds-to-45.0"),
])
async def test_values_at_the_limits_are_recorded(
    api: Api, tenant: TenantKit, field: str, value: Any
) -> None:
    nurse = await tenant.user(Role.NURSE)
    patient = await tenant.patient(tenant.facilities["DHK"])
    observation = await record(api, nurse, patient, vitals(**{field: value}))
    assert observation["news2"] == expected_news2(vitals(**{field: value}))


async def test_an_unknown_consciousness_level_is_refused_and_nothing_is_stored(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    # ACVPU is a GraphQL enum: the variables are refused before any resolver runs, and the
    # error names the field like any other validation error.
    nurse = await tenant.user(Role.NURSE)
    patient = await tenant.patient(tenant.facilities["DHK"])
    body = await api.gql(RECORD, record_input(patient, vitals(consciousness="SLEEPY")), nurse)
    assert body.get("data") is None
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                                "field": "consciousness"}
    assert await observation_rows(database.admin_url, tenant.tenant_id) == []


# -- the stored score is the module's ----------------------------------------------------------

def near(edges: list[int], low: int, high: int) -> st.SearchStrategy[int]:
    """Any value in [low, high], often one on either side of a band edge."""
    around = sorted({v for e in edges for v in (e, e + 1) if low <= v <= high})
    return st.one_of(st.integers(low, high), st.sampled_from(around))


any_vitals = st.fixed_dictionaries({
    "respirationRate": near([8, 11, 20, 24], 0, 80),
    "spo2": near([83, 85, 87, 91, 92, 93, 94, 95, 96], 0, 100),
    "onOxygen": st.booleans(),
    "systolicBp": near([90, 100, 110, 219], 20, 300),
    "pulse": near([40, 50, 90, 110, 130], 0, 300),
    "consciousness": st.sampled_from([c.value for c in news2.Consciousness]),
    "temperature": st.one_of(
        st.decimals(min_value=25, max_value=45, places=2).map(float),
        st.sampled_from([35.0, 35.04, 35.05, 36.0, 36.05, 38.0, 38.05, 39.0, 39.05])),
})


@pytest.fixture
async def patients_on_each_scale(api: Api, tenant: TenantKit) -> tuple[str, dict[str, str]]:
    """A nurse's token and a patient on each SpO2 scale (set by a clinician)."""
    facility = tenant.facilities["DHK"]
    clinician = await tenant.user(Role.CLINICIAN, [facility])
    on_scale_2 = await tenant.patient(facility)
    await set_scale(api, clinician, on_scale_2, "SCALE_2")
    return await tenant.user(Role.NURSE, [facility]), {
        "SCALE_1": await tenant.patient(facility), "SCALE_2": on_scale_2}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(given_vitals=any_vitals, scale=st.sampled_from(["SCALE_1", "SCALE_2"]))
async def test_the_stored_score_is_always_the_modules(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit,
    patients_on_each_scale: tuple[str, dict[str, str]], given_vitals: dict[str, Any], scale: str
) -> None:
    nurse, patients = patients_on_each_scale
    observation = await record(api, nurse, patients[scale], given_vitals)
    expected = news2.score(as_news2(given_vitals), news2.Spo2Scale(scale))
    assert observation["spo2Scale"] == scale
    assert observation["news2"] == expected_news2(given_vitals, scale)
    rows = await observation_rows(database.admin_url, tenant.tenant_id)
    (row,) = [r for r in rows if r["id"] == uuid_of(observation["id"])]
    assert (row["news2_total"], row["risk"], row["news2_red_score"], row["spo2_scale"]) == (
        expected.total, expected.risk.value, expected.red_score, int(scale[-1]))
    escalated = [e for e in await escalation_rows(database.admin_url, tenant.tenant_id)
                 if e["observation_id"] == row["id"]]
    assert len(escalated) == (1 if expected.escalates else 0)


# -- the SpO2 scale ----------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.NURSE, Role.ADMIN, Role.BILLING, Role.PARTNER],
                         ids=lambda r: r.value)
async def test_only_a_clinician_sets_the_spo2_scale(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, role: Role
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    token = (await tenant.partner(["patients:read", "observations:write"])
             if role is Role.PARTNER
             else tenant.admin_token if role is Role.ADMIN else await tenant.user(role))
    error = await error_of(api, SET_SPO2_SCALE,
                           {"input": {"patientId": patient, "scale": "SCALE_2"}}, token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    rows = await database_patient(database, patient)
    assert (rows["spo2_scale"], rows["spo2_scale_set_by"], rows["spo2_scale_set_at"]) == (
        1, None, None)


async def database_patient(database: DatabaseUnderTest, patient: str) -> asyncpg.Record:
    connection = await asyncpg.connect(database.admin_url)
    try:
        row = await connection.fetchrow("select * from app.patients where id = $1",
                                        uuid_of(patient))
    finally:
        await connection.close()
    assert row is not None
    return row


async def test_the_database_refuses_a_nurse_changing_the_spo2_scale(
    database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    async with as_role(database.admin_url, Role.NURSE, tenant.tenant_id,
                       (uuid_of(tenant.facilities["DHK"]),)) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("update app.patients set spo2_scale = 2 where id = $1",
                                     uuid_of(patient))


async def test_a_clinician_sets_the_spo2_scale_and_who_and_when_are_recorded(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    clinician = await tenant.user(Role.CLINICIAN)
    patient = await tenant.patient(tenant.facilities["DHK"])
    me = (await api.data("{ viewer { user { id } } }", None, clinician))["viewer"]["user"]
    with freeze_time(NOW, real_asyncio=True):
        answered = await set_scale(api, clinician, patient, "SCALE_2")
    assert answered == {"id": patient, "spo2Scale": "SCALE_2",
                        "spo2ScaleSetAt": "2025-03-01T04:00:00+00:00", "spo2ScaleSetBy": me}
    row = await database_patient(database, patient)
    assert (row["spo2_scale"], ids.encode("User", row["spo2_scale_set_by"]),
            row["spo2_scale_set_at"]) == (2, me["id"], NOW)


async def test_scale_2_changes_the_stored_score_of_spo2_on_oxygen(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    clinician = await tenant.user(Role.CLINICIAN)
    nurse = await tenant.user(Role.NURSE)
    patient = await tenant.patient(tenant.facilities["DHK"])
    on_oxygen = vitals(spo2=97, onOxygen=True)
    before = await record(api, nurse, patient, on_oxygen)
    await set_scale(api, clinician, patient, "SCALE_2")
    after = await record(api, nurse, patient, on_oxygen)
    # Chart 1: 97% scores 0 on scale 1; on oxygen it scores 3 on scale 2.
    assert (spo2_score(before["news2"]), spo2_score(after["news2"])) == (0, 3)
    first, second = await observation_rows(database.admin_url, tenant.tenant_id)
    assert (first["spo2_scale"], second["spo2_scale"]) == (1, 2)
    assert second["news2_total"] == first["news2_total"] + 3
    # The earlier observation keeps the scale it was scored on.
    data = await api.data(PATIENT_OBSERVATIONS, {"id": patient}, nurse)
    assert [(e["node"]["spo2Scale"], e["node"]["news2"]["total"])
            for e in data["patient"]["observations"]["edges"]] == [
        ("SCALE_2", second["news2_total"]), ("SCALE_1", first["news2_total"])]


# -- a ward dashboard costs a constant number of statements ------------------------------------

DASHBOARD = """
query { patients(first: 50) { edges { node {
  id latestObservation { id news2 { total risk } }
  observations(first: 2) { edges { node { id } } }
} } } }"""


async def statements_of(database: DatabaseUnderTest, claims: Claims,
                        query: str) -> tuple[int, dict[str, Any]]:
    """How many statements one request runs, and its data, executed in-process on the real
    schema and database (the count is not visible over HTTP)."""
    pool = await asyncpg.create_pool(database.api_url, min_size=1, max_size=1,
                                     connection_class=CountingConnection)
    try:
        context = RequestContext(state=AppState(settings_for_tests(), pool), claims=claims)
        result = await build_schema().execute(query, context_value=context)
        assert result.errors is None, result.errors
        assert result.data is not None
        count = context.statements
        assert count > 0
        await context.finish(commit=False)
        return count, result.data
    finally:
        await pool.close()


async def test_latest_observations_of_many_patients_cost_as_many_statements_as_of_few(
    api: Api, database: DatabaseUnderTest, other_tenant: TenantKit, tenant: TenantKit
) -> None:
    counts = []
    for kit, size in [(tenant, 2), (other_tenant, 9)]:
        nurse = await kit.user(Role.NURSE)
        for _ in range(size):
            patient = await kit.patient(kit.facilities["DHK"])
            for _ in range(3):
                await record(api, nurse, patient)
        claims = Claims(tenant_id=kit.tenant_id, role=Role.NURSE, user_id=uuid.uuid4(),
                        facility_ids=(uuid_of(kit.facilities["DHK"]),))
        count, data = await statements_of(database, claims, DASHBOARD)
        edges = data["patients"]["edges"]
        assert len(edges) == size
        assert all(e["node"]["latestObservation"] is not None for e in edges)
        assert all(len(e["node"]["observations"]["edges"]) == 2 for e in edges)
        counts.append(count)
    assert counts[0] == counts[1]
