"""Reading admissions: beds with their occupancy, a patient's admissions, admission(id:) and
node(id:), at a constant number of statements, within scope, and always audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.admitting import DISCHARGE, TRANSFER, admit, beds, discharge_input, transfer_input
from tests.audit_trail import AUDITED_OBJECTS
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest, settings_for_tests
from wardgraph import ids
from wardgraph.auth.claims import Claims, Role
from wardgraph.context import AppState, RequestContext
from wardgraph.db.pool import CountingConnection
from wardgraph.schema import build_schema

HOUR = timedelta(hours=1)

WARD_BEDS = """
query($id: ID!) {
  ward(id: $id) {
    beds { id label occupied currentAdmission { id number patient { id familyName } } }
  }
}"""

ADMISSION = """
query($id: ID!) {
  admission(id: $id) {
    id number status admittedAt dischargedAt
    patient { id } bed { id } facility { code }
    stays { bed { id } startedAt endedAt }
  }
}"""


def uuid_of(global_id: str) -> uuid.UUID:
    parsed = ids.parse(global_id)
    assert parsed is not None
    return parsed[1]


async def ward_of(kit: TenantKit, count: int) -> tuple[str, list[str]]:
    ward = await kit.ward(kit.facilities["DHK"], name=f"Ward {uuid.uuid4().hex[:6]}")
    return ward, await beds(kit, ward, count)


async def statements_of(database: DatabaseUnderTest, claims: Claims, query: str,
                        variables: dict[str, Any]) -> int:
    """How many statements one request runs, executed in-process on the real schema and
    database (the count is not visible over HTTP)."""
    pool = await asyncpg.create_pool(database.api_url, min_size=1, max_size=1,
                                     connection_class=CountingConnection)
    try:
        context = RequestContext(state=AppState(settings_for_tests(), pool), claims=claims)
        result = await build_schema().execute(query, variables, context_value=context)
        assert result.errors is None, result.errors
        count = context.statements
        assert count > 0
        await context.finish(commit=False)
        return count
    finally:
        await pool.close()


async def test_ward_beds_show_who_is_in_them(api: Api, tenant: TenantKit) -> None:
    ward, (taken, free) = await ward_of(tenant, 2)
    patient = await tenant.patient(tenant.facilities["DHK"], family="Rahman")
    admission = await admit(api, tenant.admin_token, patient, taken)
    data = await api.data(WARD_BEDS, {"id": ward}, tenant.admin_token)
    by_bed = {b["id"]: b for b in data["ward"]["beds"]}
    assert by_bed[taken]["occupied"] is True
    assert by_bed[taken]["currentAdmission"] == {
        "id": admission["id"], "number": admission["number"],
        "patient": {"id": patient, "familyName": "Rahman"}}
    assert by_bed[free]["occupied"] is False
    assert by_bed[free]["currentAdmission"] is None


@pytest.mark.parametrize("role", [Role.ADMIN, Role.NURSE, Role.BILLING], ids=lambda r: r.value)
async def test_a_ward_of_many_beds_costs_as_many_statements_as_a_ward_of_few(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, role: Role
) -> None:
    counts = []
    for size in (2, 12):
        ward, ward_beds = await ward_of(tenant, size)
        for bed in ward_beds:
            await admit(api, tenant.admin_token, await tenant.patient(tenant.facilities["DHK"]),
                        bed)
        claims = Claims(tenant_id=tenant.tenant_id, role=role,
                        facility_ids=(uuid_of(tenant.facilities["DHK"]),))
        counts.append(await statements_of(database, claims, WARD_BEDS, {"id": ward}))
    assert counts[0] == counts[1]


async def test_patient_admissions_are_newest_first_and_current_is_the_active_one(
    api: Api, tenant: TenantKit
) -> None:
    _, (bed,) = await ward_of(tenant, 1)
    patient = await tenant.patient(tenant.facilities["DHK"])
    start = datetime.now(UTC) - 10 * HOUR
    first = await admit(api, tenant.admin_token, patient, bed, start)
    await api.data(DISCHARGE, discharge_input(first["id"], start + HOUR), tenant.admin_token)
    second = await admit(api, tenant.admin_token, patient, bed, start + 2 * HOUR)
    data = await api.data("""
        query($id: ID!) { patient(id: $id) {
          currentAdmission { id } admissions { id status }
        } }""", {"id": patient}, tenant.admin_token)
    assert data["patient"]["currentAdmission"] == {"id": second["id"]}
    assert data["patient"]["admissions"] == [
        {"id": second["id"], "status": "ACTIVE"}, {"id": first["id"], "status": "DISCHARGED"}]


async def test_admission_by_id_and_as_a_node_with_its_bed_history(
    api: Api, tenant: TenantKit
) -> None:
    _, (first_bed, second_bed) = await ward_of(tenant, 2)
    admitted_at = datetime.now(UTC) - 2 * HOUR
    admission = await admit(api, tenant.admin_token,
                            await tenant.patient(tenant.facilities["DHK"]), first_bed,
                            admitted_at)
    await api.data(TRANSFER, transfer_input(admission["id"], second_bed, admitted_at + HOUR),
                   tenant.admin_token)
    data = await api.data(ADMISSION, {"id": admission["id"]}, tenant.admin_token)
    read = data["admission"]
    assert read["facility"] == {"code": "DHK"}
    assert read["bed"] == {"id": second_bed}
    assert read["stays"] == [
        {"bed": {"id": first_bed}, "startedAt": admitted_at.isoformat(),
         "endedAt": (admitted_at + HOUR).isoformat()},
        {"bed": {"id": second_bed}, "startedAt": (admitted_at + HOUR).isoformat(),
         "endedAt": None}]
    node = await api.data("""query($id: ID!) { node(id: $id) {
        ... on Admission { id number } } }""", {"id": admission["id"]}, tenant.admin_token)
    assert node["node"] == {"id": admission["id"], "number": admission["number"]}


@pytest.mark.parametrize(("scopes", "allowed"), [
    pytest.param(["admissions:read", "patients:read"], True, id="with-admissions-read"),
    pytest.param(["patients:read", "observations:read"], False, id="without"),
])
@pytest.mark.parametrize("field", ["admission", "node", "bed-occupied", "patient-admissions"])
async def test_partner_reads_admissions_only_with_the_admissions_read_scope(
    api: Api, tenant: TenantKit, scopes: list[str], allowed: bool, field: str
) -> None:
    _, (bed,) = await ward_of(tenant, 1)
    patient = await tenant.patient(tenant.facilities["DHK"])
    admission = await admit(api, tenant.admin_token, patient, bed)
    query, variables = {
        "admission": ("query($id: ID!) { admission(id: $id) { number } }",
                      {"id": admission["id"]}),
        "node": ("query($id: ID!) { node(id: $id) { ... on Admission { number } } }",
                 {"id": admission["id"]}),
        "bed-occupied": ("query($id: ID!) { node(id: $id) { ... on Bed { occupied } } }",
                         {"id": bed}),
        "patient-admissions": ("query($id: ID!) { patient(id: $id) { admissions { id } } }",
                               {"id": patient}),
    }[field]
    body = await api.gql(query, variables, await tenant.partner(scopes))
    if allowed:
        assert "errors" not in body
    else:
        assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}


async def test_auditor_may_not_read_admissions(api: Api, tenant: TenantKit) -> None:
    _, (bed,) = await ward_of(tenant, 1)
    admission = await admit(api, tenant.admin_token,
                            await tenant.patient(tenant.facilities["DHK"]), bed)
    auditor = await tenant.user(Role.AUDITOR)
    assert await api.error_code(ADMISSION, {"id": admission["id"]}, auditor) == "FORBIDDEN"


@pytest.mark.parametrize("field", ["admission", "node"])
async def test_other_tenants_or_facilitys_admission_answers_exactly_like_a_random_id(
    api: Api, tenant: TenantKit, other_tenant: TenantKit, field: str
) -> None:
    theirs = []
    for kit, facility in [(other_tenant, other_tenant.facilities["DHK"]),
                          (tenant, await tenant.facility("CTG", "Asia/Dhaka"))]:
        (bed,) = await beds(kit, await kit.ward(facility), 1)
        theirs.append((await admit(api, kit.admin_token, await kit.patient(facility), bed))["id"])
    nurse = await tenant.user(Role.NURSE, [tenant.facilities["DHK"]])
    query = f"query($id: ID!) {{ {field}(id: $id) {{ id }} }}"
    answers = [await api.post(query, {"id": given}, nurse)
               for given in [*theirs, ids.encode("Admission", uuid.uuid4())]]
    assert {a.status_code for a in answers} == {200}
    assert answers[0].content == answers[1].content == answers[2].content
    assert answers[0].json()["errors"][0]["extensions"] == {"code": "NOT_FOUND"}


async def test_every_admission_read_and_write_is_audited_with_its_patient(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    _, (bed, other_bed) = await ward_of(tenant, 2)
    patient = await tenant.patient(tenant.facilities["DHK"])
    nurse = await tenant.user(Role.NURSE, [tenant.facilities["DHK"]])
    admission = await admit(api, nurse, patient, bed)
    await api.data(TRANSFER, transfer_input(admission["id"], other_bed), nurse)
    await api.data(DISCHARGE, discharge_input(admission["id"]), nurse)
    await api.data(ADMISSION, {"id": admission["id"]}, nurse)
    await api.data("query($id: ID!) { patient(id: $id) { admissions { id } } }",
                   {"id": patient}, nurse)
    rows = await admin_fetch(database.admin_url, f"""
        select operation, actor_role, patient_id from {AUDITED_OBJECTS}
        where object_type = 'Admission' and object_id = $1 order by seq, position""",
        uuid_of(admission["id"]))
    assert [(r["operation"], r["actor_role"]) for r in rows] == [
        ("CREATE", "NURSE"), ("UPDATE", "NURSE"), ("UPDATE", "NURSE"), ("READ", "NURSE"),
        ("READ", "NURSE")]
    assert {r["patient_id"] for r in rows} == {uuid_of(patient)}
