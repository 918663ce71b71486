"""Patients: registration, search by name or MRN, cursor pages, and clinical columns."""

from __future__ import annotations

import pytest

from tests.audit_trail import AUDITED_OBJECTS
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from wardgraph.auth.claims import Role

CREATE = """mutation($i: CreatePatientInput!) {
  createPatient(input: $i) { id mrn givenName familyName birthDate facility { code } } }"""
SEARCH = """query($s: String, $first: Int, $after: String) {
  patients(search: $s, first: $first, after: $after) {
    edges { node { mrn familyName } } pageInfo { hasNextPage endCursor } } }"""


def new_patient(tenant: TenantKit, **changes: str) -> dict[str, dict[str, str]]:
    values = {"mrn": "H-100", "givenName": "Grace", "familyName": "Hopper",
              "birthDate": "1906-12-09", "facilityId": tenant.facilities["DHK"]}
    values.update(changes)
    return {"i": values}


async def test_nurse_registers_a_patient_at_her_only_facility(api: Api, tenant: TenantKit
                                                               ) -> None:
    nurse = await tenant.user(Role.NURSE, [tenant.facilities["DHK"]])
    variables = new_patient(tenant)
    del variables["i"]["facilityId"]
    data = await api.data(CREATE, variables, nurse)
    assert data["createPatient"]["facility"] == {"code": "DHK"}
    assert data["createPatient"]["birthDate"] == "1906-12-09"


async def test_facility_must_be_named_when_the_user_has_several(
    api: Api, tenant: TenantKit
) -> None:
    await tenant.facility("LON", "Europe/London")
    nurse = await tenant.user(Role.NURSE)
    variables = new_patient(tenant)
    del variables["i"]["facilityId"]
    body = await api.gql(CREATE, variables, nurse)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "facilityId"}


@pytest.mark.parametrize(("field", "value"), [
    ("mrn", ""), ("mrn", "has space"), ("givenName", ""), ("familyName", "x" * 101),
    ("birthDate", "2999-01-01"),
])
async def test_bad_patient_input_names_the_field_and_writes_nothing(
    api: Api, tenant: TenantKit, database: DatabaseUnderTest, field: str, value: str
) -> None:
    body = await api.gql(CREATE, new_patient(tenant, **{field: value}), tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": field}
    rows = await admin_fetch(database.admin_url,
                             "select 1 from app.patients where tenant_id = $1", tenant.tenant_id)
    assert rows == []


async def test_malformed_birth_date_is_a_validation_error_not_a_500(
    api: Api, tenant: TenantKit
) -> None:
    response = await api.post(CREATE, new_patient(tenant, birthDate="1906-13-45"),
                              tenant.admin_token)
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                                         "field": "birthDate"}


async def test_mrn_is_unique_within_a_tenant_only(
    api: Api, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    await api.data(CREATE, new_patient(tenant), tenant.admin_token)
    body = await api.gql(CREATE, new_patient(tenant, givenName="Other"), tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "mrn"}
    await api.data(CREATE, new_patient(other_tenant), other_tenant.admin_token)


async def test_search_matches_mrn_exactly_and_names_by_prefix_case_insensitively(
    api: Api, tenant: TenantKit
) -> None:
    facility = tenant.facilities["DHK"]
    await tenant.patient(facility, mrn="A-1", given="Ada", family="Lovelace")
    await tenant.patient(facility, mrn="A-2", given="Alan", family="Turing")
    await tenant.patient(facility, mrn="A-12", given="Love", family="Smith")

    async def search(text: str) -> list[str]:
        data = await api.data(SEARCH, {"s": text}, tenant.admin_token)
        return sorted(e["node"]["mrn"] for e in data["patients"]["edges"])

    assert await search("A-1") == ["A-1"]
    assert await search("love") == ["A-1", "A-12"]
    assert await search("TUR") == ["A-2"]
    assert await search("%") == []  # a wildcard is a literal character, not "everything"
    assert await search("nobody") == []


async def test_patients_pages_follow_the_cursor_without_gaps_or_repeats(
    api: Api, tenant: TenantKit
) -> None:
    for n in range(7):
        await tenant.patient(tenant.facilities["DHK"], mrn=f"P-{n}", family=f"Family{n % 3}")
    seen: list[str] = []
    after = None
    while True:
        data = await api.data(SEARCH, {"first": 3, "after": after}, tenant.admin_token)
        page = data["patients"]
        seen += [e["node"]["mrn"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == [f"P-{n}" for n in range(7)]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize(("first", "ok"), [(0, True), (100, True), (101, False), (-1, False)])
async def test_page_size_is_capped(api: Api, tenant: TenantKit, first: int, ok: bool) -> None:
    body = await api.gql(SEARCH, {"first": first}, tenant.admin_token)
    if ok:
        assert "errors" not in body
    else:
        assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "first"}


async def test_forged_cursor_is_a_validation_error(api: Api, tenant: TenantKit) -> None:
    body = await api.gql(SEARCH, {"after": "bm90LWEtY3Vyc29y"}, tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "after"}


async def test_billing_is_refused_the_spo2_scale_by_the_database(
    api: Api, tenant: TenantKit
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    billing = await tenant.user(Role.BILLING)
    body = await api.gql("query($id: ID!) { patient(id: $id) { mrn spo2Scale } }",
                         {"id": patient}, billing)
    assert body["data"]["patient"]["mrn"]
    assert body["data"]["patient"]["spo2Scale"] is None
    assert body["errors"][0]["path"] == ["patient", "spo2Scale"]
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    nurse = await tenant.user(Role.NURSE)
    data = await api.data("query($id: ID!) { patient(id: $id) { spo2Scale } }",
                          {"id": patient}, nurse)
    assert data["patient"]["spo2Scale"] == "SCALE_1"


async def test_auditor_may_not_read_patients(api: Api, tenant: TenantKit) -> None:
    auditor = await tenant.user(Role.AUDITOR)
    assert await api.error_code("{ patients { edges { node { mrn } } } }", {}, auditor) == (
        "FORBIDDEN")


async def test_reading_a_patient_is_recorded_in_the_audit_trail(
    api: Api, tenant: TenantKit, database: DatabaseUnderTest
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    nurse = await tenant.user(Role.NURSE)
    await api.data("query($id: ID!) { patient(id: $id) { mrn } }", {"id": patient}, nurse)
    rows = await admin_fetch(database.admin_url, f"""
        select operation, object_type, actor_role from {AUDITED_OBJECTS}
        where tenant_id = $1 and object_type = 'Patient' order by seq, position""",
                             tenant.tenant_id)
    assert [tuple(r) for r in rows] == [("CREATE", "Patient", "ADMIN"),
                                        ("READ", "Patient", "NURSE")]
