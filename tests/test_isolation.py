"""Tenants never see each other: through GraphQL over HTTP and through SQL as each role."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.factories import TenantKit
from tests.harness import Api, DatabaseUnderTest
from tests.sql_roles import as_role
from wardgraph import ids
from wardgraph.auth.claims import USER_ROLES, Role

TENANT_TABLES = ("app.facilities", "app.wards", "app.beds", "app.users", "app.user_facilities",
                 "app.patients")


async def seeded(kit: TenantKit) -> dict[str, str]:
    """A ward, a bed and a patient in the kit's DHK facility."""
    ward = await kit.ward(kit.facilities["DHK"])
    bed = await kit.bed(ward, "B-1")
    patient = await kit.patient(kit.facilities["DHK"], given="Other", family="Tenant")
    return {"facility": kit.facilities["DHK"], "ward": ward, "bed": bed, "patient": patient}


async def test_patients_list_holds_no_other_tenants_patient(
    api: Api, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    theirs = await seeded(other_tenant)
    await tenant.patient(tenant.facilities["DHK"], family="Ours")
    data = await api.data("{ patients(first: 100) { edges { node { id familyName } } } }",
                          {}, tenant.admin_token)
    listed = [e["node"]["id"] for e in data["patients"]["edges"]]
    assert len(listed) == 1 and theirs["patient"] not in listed


@pytest.mark.parametrize(("field", "kind"), [
    ("patient", "patient"), ("facility", "facility"), ("ward", "ward"), ("node", "patient"),
    ("node", "bed"),
])
async def test_other_tenants_id_answers_exactly_like_a_random_id(
    api: Api, tenant: TenantKit, other_tenant: TenantKit, field: str, kind: str
) -> None:
    theirs = await seeded(other_tenant)
    type_name = {"patient": "Patient", "facility": "Facility", "ward": "Ward", "bed": "Bed"}[kind]
    query = f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}"
    foreign = await api.post(query, {"id": theirs[kind]}, tenant.admin_token)
    random = await api.post(query, {"id": ids.encode(type_name, uuid.uuid4())},
                            tenant.admin_token)
    malformed = await api.post(query, {"id": "not-an-id"}, tenant.admin_token)
    assert foreign.status_code == random.status_code == malformed.status_code == 200
    assert foreign.content == random.content == malformed.content
    assert foreign.json()["errors"][0]["extensions"] == {"code": "NOT_FOUND"}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CLINICIAN, Role.NURSE])
async def test_writes_naming_another_tenants_rows_answer_not_found(
    api: Api, tenant: TenantKit, other_tenant: TenantKit, role: Role
) -> None:
    theirs = await seeded(other_tenant)
    token = tenant.admin_token if role is Role.ADMIN else await tenant.user(role)
    attempts: list[tuple[str, dict[str, object]]] = [
        ("mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
         {"i": {"mrn": "X1", "givenName": "A", "familyName": "B", "birthDate": "1990-01-01",
                "facilityId": theirs["facility"]}}),
    ]
    if role is Role.ADMIN:
        attempts += [
            ("mutation($i: CreateWardInput!) { createWard(input: $i) { id } }",
             {"i": {"facilityId": theirs["facility"], "name": "Mine", "dailyRate": "1.00"}}),
            ("mutation($i: CreateBedInput!) { createBed(input: $i) { id } }",
             {"i": {"wardId": theirs["ward"], "label": "Mine"}}),
            ("mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
             {"i": {"email": "spy@x.example", "role": "NURSE",
                    "facilityIds": [theirs["facility"]]}}),
        ]
    for query, variables in attempts:
        assert await api.error_code(query, variables, token) == "NOT_FOUND"
    # Nothing was written on either side.
    data = await api.data("{ patients(first: 100) { edges { node { mrn } } } }", {},
                          other_tenant.admin_token)
    assert [e["node"]["mrn"] for e in data["patients"]["edges"]] != ["X1"]


@pytest.mark.parametrize("role", (*USER_ROLES, Role.PARTNER), ids=lambda r: r.value)
@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_sql_as_each_role_with_other_tenants_claims_sees_no_row(
    database: DatabaseUnderTest, tenant: TenantKit, other_tenant: TenantKit, role: Role,
    table: str,
) -> None:
    await seeded(other_tenant)
    facility = ids.decode(tenant.facilities["DHK"], "Facility")
    async with as_role(database.api_url, role, tenant.tenant_id, (facility,),
                       scopes=("patients:read",)) as connection:
        try:
            rows = await connection.fetch(
                f"select tenant_id from {table} where tenant_id = $1",
                other_tenant.tenant_id)
        except asyncpg.InsufficientPrivilegeError:
            rows = []  # not granted at all: even stronger
        assert rows == []


@pytest.mark.parametrize("role", (*USER_ROLES, Role.PARTNER), ids=lambda r: r.value)
async def test_sql_without_tenant_claim_yields_no_rows_never_all(
    database: DatabaseUnderTest, tenant: TenantKit, role: Role
) -> None:
    await seeded(tenant)
    async with as_role(database.api_url, role, None) as connection:
        for table in TENANT_TABLES:
            try:
                async with connection.transaction():  # a savepoint per table
                    count = await connection.fetchval(
                        f"select count(*) from {table}")
            except asyncpg.InsufficientPrivilegeError:
                continue
            assert count == 0, table


async def test_api_login_role_without_a_role_is_refused(database: DatabaseUnderTest) -> None:
    connection = await asyncpg.connect(database.api_url)
    try:
        for table in TENANT_TABLES:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.fetch(f"select * from {table} limit 1")
    finally:
        await connection.close()


@pytest.mark.parametrize("statement", [
    "update app.patients set family_name = 'X' where tenant_id = $1",
    "delete from app.beds where tenant_id = $1",
    "update app.facilities set name = 'X' where tenant_id = $1",
])
async def test_admin_of_one_tenant_changes_no_row_of_another(
    database: DatabaseUnderTest, tenant: TenantKit, other_tenant: TenantKit, statement: str
) -> None:
    await seeded(other_tenant)
    async with as_role(database.api_url, Role.ADMIN, tenant.tenant_id) as connection:
        try:
            result = await connection.execute(statement, other_tenant.tenant_id)
        except asyncpg.InsufficientPrivilegeError:
            return  # not even granted
        assert result.split()[-1] == "0"


async def test_foreign_key_cannot_point_at_another_tenants_row_even_with_its_id(
    database: DatabaseUnderTest, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    theirs = await seeded(other_tenant)
    their_facility = ids.decode(theirs["facility"], "Facility")
    async with as_role(database.api_url, Role.ADMIN, tenant.tenant_id) as connection:
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await connection.execute(
                "insert into app.wards (tenant_id, facility_id, name, daily_rate) "
                "values ($1, $2, 'Sneaky', 1)", tenant.tenant_id, their_facility)


async def test_writing_a_row_into_another_tenant_is_refused_by_policy(
    database: DatabaseUnderTest, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    async with as_role(database.api_url, Role.ADMIN, tenant.tenant_id) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute(
                "insert into app.facilities (tenant_id, code, name, timezone) "
                "values ($1, 'ZZZ', 'Planted', 'UTC')", other_tenant.tenant_id)
