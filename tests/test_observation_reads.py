"""Reading vital signs back: newest first in pages, the latest one, every read audited, and
only for those who may: no vitals for billing, partners only with observations:read, nothing
across facilities or tenants."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.audit_trail import AUDITED_OBJECTS
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.observing import (
    NORMAL,
    PATIENT_OBSERVATIONS,
    Ward,
    make_ward,
    record,
    uuid_of,
)
from tests.sql_roles import as_role
from wardgraph.auth.claims import Role

NOW = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def ward(tenant: TenantKit) -> Ward:
    return await make_ward(tenant)


async def test_patient_observations_are_newest_first_in_pages(api: Api, ward: Ward) -> None:
    recorded = [await record(api, ward.nurse, ward.patient, NORMAL,
                             recordedAt=(NOW + n * MINUTE).isoformat()) for n in range(5)]
    newest_first = [o["id"] for o in reversed(recorded)]
    seen: list[str] = []
    after = None
    while True:
        data = await api.data(PATIENT_OBSERVATIONS,
                              {"id": ward.patient, "first": 2, "after": after}, ward.clinician)
        page = data["patient"]["observations"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == newest_first
    latest = await api.data("""query($id: ID!) { patient(id: $id) {
        latestObservation { id news2 { total } } } }""", {"id": ward.patient}, ward.nurse)
    assert latest["patient"]["latestObservation"] == {"id": newest_first[0],
                                                      "news2": {"total": 0}}


async def test_each_observation_read_is_audited(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    recorded = [await record(api, ward.nurse, ward.patient) for _ in range(2)]
    await api.data(PATIENT_OBSERVATIONS, {"id": ward.patient}, ward.clinician)
    rows = await admin_fetch(database.admin_url, f"""
        select object_id, patient_id from {AUDITED_OBJECTS}
        where tenant_id = $1 and operation = 'READ' and object_type = 'Observation'""",
        ward.kit.tenant_id)
    assert sorted((r["object_id"], r["patient_id"]) for r in rows) == sorted(
        (uuid_of(o["id"]), uuid_of(ward.patient)) for o in recorded)


async def test_billing_gets_no_vitals(api: Api, database: DatabaseUnderTest, ward: Ward) -> None:
    await record(api, ward.nurse, ward.patient)
    billing = await ward.kit.user(Role.BILLING, [ward.facility])
    body = await api.gql("""query($id: ID!) { patient(id: $id) { familyName
        latestObservation { id } observations { edges { node { id } } } } }""",
                         {"id": ward.patient}, billing)
    assert body["data"] == {"patient": None}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FORBIDDEN"}
    # The database refuses too: billing holds no grant on observations.
    async with as_role(database.admin_url, Role.BILLING, ward.kit.tenant_id,
                       (uuid_of(ward.facility),)) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetch("select * from app.observations")


async def test_partner_needs_observations_read_to_read_vitals(
    api: Api, ward: Ward
) -> None:
    observation = await record(api, ward.nurse, ward.patient)
    without = await ward.kit.partner(["patients:read"])
    body = await api.gql(PATIENT_OBSERVATIONS, {"id": ward.patient}, without)
    assert body["data"] == {"patient": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    with_scope = await ward.kit.partner(["patients:read", "observations:read"])
    data = await api.data(PATIENT_OBSERVATIONS, {"id": ward.patient}, with_scope)
    assert [e["node"]["id"] for e in data["patient"]["observations"]["edges"]] == [
        observation["id"]]


async def test_partner_without_the_scope_selects_no_observation_rows_in_sql(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    await record(api, ward.nurse, ward.patient)
    facilities = (uuid_of(ward.facility),)
    counts = {}
    for scopes in [("patients:read",), ("patients:read", "observations:read")]:
        async with as_role(database.admin_url, Role.PARTNER, ward.kit.tenant_id, facilities,
                           scopes, partner_token_id=uuid.uuid4()) as connection:
            counts[scopes] = await connection.fetchval("select count(*) from app.observations")
    assert counts == {("patients:read",): 0, ("patients:read", "observations:read"): 1}


async def test_observation_node_is_not_found_for_another_facility_or_tenant(
    api: Api, ward: Ward, other_tenant: TenantKit
) -> None:
    observation = await record(api, ward.nurse, ward.patient)
    elsewhere = await ward.kit.facility("CTG", "Asia/Dhaka")
    strangers = [await ward.kit.user(Role.NURSE, [elsewhere]),
                 await other_tenant.user(Role.NURSE)]
    query = "query($id: ID!) { node(id: $id) { id } }"
    for token in strangers:
        body = await api.gql(query, {"id": observation["id"]}, token)
        assert body["data"] == {"node": None}
        assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
