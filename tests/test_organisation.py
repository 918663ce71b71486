"""Facilities, wards, beds and users: created by admins, validated by the database."""

from __future__ import annotations

import pytest

from tests.factories import TenantKit
from tests.harness import Api
from wardgraph.auth.claims import Role

CREATE_FACILITY = """
mutation($input: CreateFacilityInput!) {
  createFacility(input: $input) { id code name timezone currency }
}"""
CREATE_WARD = """
mutation($input: CreateWardInput!) {
  createWard(input: $input) { id name dailyRate { amount currency } } }
"""


async def test_admin_creates_a_facility_in_an_iana_zone(api: Api, tenant: TenantKit) -> None:
    data = await api.data(CREATE_FACILITY, {"input": {
        "code": "KTM", "name": "Kathmandu", "timezone": "Asia/Kathmandu"}}, tenant.admin_token)
    assert data["createFacility"]["timezone"] == "Asia/Kathmandu"
    assert data["createFacility"]["currency"] == "USD"


@pytest.mark.parametrize("zone", [
    pytest.param("Mars/Olympus_Mons", id="made-up"),
    pytest.param("asia/dhaka", id="wrong-case"),
    pytest.param("", id="empty"),
])
async def test_unknown_time_zone_is_refused_by_the_database(
    api: Api, tenant: TenantKit, zone: str
) -> None:
    body = await api.gql(CREATE_FACILITY, {"input": {
        "code": "BAD", "name": "Bad zone", "timezone": zone}}, tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "timezone"}
    assert body["data"] is None


@pytest.mark.parametrize("code", [
    pytest.param("dhk", id="lower-case"), pytest.param("X", id="too-short"),
    pytest.param("ABCDEFGHIJKLM", id="too-long"), pytest.param("A-B", id="punctuation"),
])
async def test_malformed_facility_code_is_refused(api: Api, tenant: TenantKit, code: str) -> None:
    body = await api.gql(CREATE_FACILITY, {"input": {
        "code": code, "name": "X", "timezone": "UTC"}}, tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "code"}


async def test_duplicate_facility_code_names_the_field_and_not_the_database(
    api: Api, tenant: TenantKit
) -> None:
    body = await api.gql(CREATE_FACILITY, {"input": {
        "code": "DHK", "name": "Again", "timezone": "Asia/Dhaka"}}, tenant.admin_token)
    error = body["errors"][0]
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "code"}
    assert "facilities_code_unique" not in error["message"]
    assert "duplicate key" not in error["message"]


async def test_same_facility_code_is_free_in_another_tenant(
    api: Api, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    # Both fixtures created "DHK": unique indexes are scoped by tenant.
    assert tenant.facilities["DHK"] != other_tenant.facilities["DHK"]


@pytest.mark.parametrize(("rate", "ok"), [
    pytest.param("0.00", True, id="zero"), pytest.param("125.5", True, id="one-place"),
    pytest.param("-0.01", False, id="negative"), pytest.param("1.001", False, id="three-places"),
    pytest.param("abc", False, id="not-a-number"), pytest.param("NaN", False, id="nan"),
])
async def test_ward_daily_rate_is_a_non_negative_decimal(
    api: Api, tenant: TenantKit, rate: str, ok: bool
) -> None:
    body = await api.gql(CREATE_WARD, {"input": {
        "facilityId": tenant.facilities["DHK"], "name": f"W {rate}", "dailyRate": rate}},
        tenant.admin_token)
    if ok:
        assert "errors" not in body, body
        assert body["data"]["createWard"]["dailyRate"]["currency"] == "USD"
    else:
        assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                                    "field": "dailyRate"}


async def test_ward_lists_its_beds_by_label(api: Api, tenant: TenantKit) -> None:
    ward = await tenant.ward(tenant.facilities["DHK"])
    for label in ("B-02", "B-01", "B-03"):
        await tenant.bed(ward, label)
    data = await api.data("query($id: ID!) { ward(id: $id) { name beds { label } } }",
                          {"id": ward}, tenant.admin_token)
    assert [b["label"] for b in data["ward"]["beds"]] == ["B-01", "B-02", "B-03"]


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.AUDITOR])
async def test_only_admins_create_facilities_wards_beds_and_users(
    api: Api, tenant: TenantKit, role: Role
) -> None:
    token = await tenant.user(role)
    ward = await tenant.ward(tenant.facilities["DHK"])
    attempts = [
        (CREATE_FACILITY, {"input": {"code": "NEW", "name": "N", "timezone": "UTC"}}),
        (CREATE_WARD, {"input": {"facilityId": tenant.facilities["DHK"], "name": "N",
                                 "dailyRate": "1.00"}}),
        ("mutation($input: CreateBedInput!) { createBed(input: $input) { id } }",
         {"input": {"wardId": ward, "label": "N-1"}}),
        ("mutation($input: CreateUserInput!) { createUser(input: $input) { id } }",
         {"input": {"email": "x@y.example", "role": "NURSE"}}),
    ]
    for query, variables in attempts:
        assert await api.error_code(query, variables, token) == "FORBIDDEN"


async def test_facilities_connection_pages_by_code(api: Api, tenant: TenantKit) -> None:
    for code in ("AAA", "BBB", "CCC"):
        await tenant.facility(code, "UTC")
    query = """query($after: String) { facilities(first: 2, after: $after) {
        edges { node { code } } pageInfo { hasNextPage endCursor } } }"""
    first = (await api.data(query, {}, tenant.admin_token))["facilities"]
    assert [e["node"]["code"] for e in first["edges"]] == ["AAA", "BBB"]
    assert first["pageInfo"]["hasNextPage"] is True
    second = (await api.data(query, {"after": first["pageInfo"]["endCursor"]},
                             tenant.admin_token))["facilities"]
    assert [e["node"]["code"] for e in second["edges"]] == ["CCC", "DHK"]
    assert second["pageInfo"]["hasNextPage"] is False


async def test_nurse_sees_only_the_facilities_she_belongs_to(api: Api, tenant: TenantKit) -> None:
    other = await tenant.facility("LON", "Europe/London")
    nurse = await tenant.user(Role.NURSE, [tenant.facilities["DHK"]])
    data = await api.data("{ facilities { edges { node { code } } } }", {}, nurse)
    assert [e["node"]["code"] for e in data["facilities"]["edges"]] == ["DHK"]
    assert await api.error_code("query($id: ID!) { facility(id: $id) { code } }",
                                {"id": other}, nurse) == "NOT_FOUND"


async def test_created_user_is_listed_with_role_and_facilities(
    api: Api, tenant: TenantKit
) -> None:
    data = await api.data(
        """mutation($input: CreateUserInput!) { createUser(input: $input) {
            email role facilities { code } } }""",
        {"input": {"email": "Nurse.One@Example.org", "role": "NURSE",
                   "facilityIds": [tenant.facilities["DHK"]], "password": "long-enough-pw"}},
        tenant.admin_token)
    assert data["createUser"] == {"email": "Nurse.One@Example.org", "role": "NURSE",
                                  "facilities": [{"code": "DHK"}]}
    # E-mails are unique in a tenant whatever their case.
    body = await api.gql(
        """mutation($input: CreateUserInput!) { createUser(input: $input) { id } }""",
        {"input": {"email": "nurse.one@example.org", "role": "CLINICIAN"}}, tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "email"}
