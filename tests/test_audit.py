"""The PHI audit trail: every read of a patient's record and every write is recorded with who,
which tenant, what, when and the request id, in one event per request; no role can change or
remove an event; each tenant's events are hash-chained, and `wardgraph audit verify` finds any
tampering; auditors read the trail through GraphQL without adding to it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.audit_trail import AUDITED_OBJECTS
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.sql_roles import as_role
from wardgraph import ids
from wardgraph.auth.claims import Claims, Role
from wardgraph.db.session import begin_with_claims
from wardgraph.ops.audit_verify import verify

PATIENT = "query($id: ID!) { patient(id: $id) { id mrn } }"
EVENTS = """query($first: Int, $after: String, $patientId: ID, $actorId: ID, $from: DateTime,
                 $to: DateTime) {
  auditEvents(first: $first, after: $after, patientId: $patientId, actorId: $actorId,
              from: $from, to: $to) {
    edges { cursor node { id occurredAt requestId actorType actorId actorRole operations
                          patientIds objects { operation objectType objectId patientId } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
NORMAL = {"respirationRate": 16, "spo2": 97, "onOxygen": False, "systolicBp": 120,
          "pulse": 70, "consciousness": "ALERT", "temperature": 37.0}

EVENT_COLUMNS = """operation, object_type, object_id, patient_id, actor_type, actor_id,
                   actor_role"""


async def events_of_request(database: DatabaseUnderTest, tenant: TenantKit,
                            request_id: str) -> list[tuple[Any, ...]]:
    rows = await admin_fetch(database.admin_url, f"""
        select {EVENT_COLUMNS} from {AUDITED_OBJECTS}
        where tenant_id = $1 and request_id = $2 order by seq, position""", tenant.tenant_id,
                             request_id)
    return [tuple(r) for r in rows]


async def user_id_of(api: Api, token: str) -> Any:
    data = await api.data("{ viewer { user { id } } }", {}, token)
    return ids.decode(data["viewer"]["user"]["id"], "User")


async def event_count(database: DatabaseUnderTest, tenant: TenantKit) -> int:
    [row] = await admin_fetch(database.admin_url,
                              "select count(*) as n from app.audit_events where tenant_id = $1",
                              tenant.tenant_id)
    count: int = row["n"]
    return count


# -- what is recorded ---------------------------------------------------------------------------

async def test_patient_read_is_recorded_under_the_request_id_of_the_response(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    nurse = await tenant.user(Role.NURSE)
    response = await api.post(PATIENT, {"id": patient}, nurse)
    assert response.status_code == 200 and "errors" not in response.json()
    request_id = response.headers["x-request-id"]
    patient_id = ids.decode(patient, "Patient")
    assert await events_of_request(database, tenant, request_id) == [
        ("READ", "Patient", patient_id, patient_id, "USER", await user_id_of(api, nurse),
         "NURSE")]


async def test_partner_read_is_recorded_as_its_token(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    token = await tenant.partner(["patients:read"])
    response = await api.post(
        "{ viewer { partnerToken { id } } patients { edges { node { id } } } }", {}, token)
    token_id = ids.decode(response.json()["data"]["viewer"]["partnerToken"]["id"],
                          "PartnerToken")
    patient_id = ids.decode(patient, "Patient")
    assert await events_of_request(database, tenant, response.headers["x-request-id"]) == [
        ("READ", "Patient", patient_id, patient_id, "PARTNER", token_id, "PARTNER")]


async def test_observations_read_are_each_recorded_with_their_patient(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    nurse = await tenant.user(Role.NURSE)
    recorded = [await api.data("""
        mutation($input: RecordObservationInput!) { recordObservation(input: $input) { id } }""",
        {"input": {"patientId": patient, **NORMAL}}, nurse) for _ in range(2)]
    response = await api.post("""query($id: ID!) { patient(id: $id) {
        observations { edges { node { id } } } } }""", {"id": patient}, nurse)
    patient_id = ids.decode(patient, "Patient")
    events = await events_of_request(database, tenant, response.headers["x-request-id"])
    observations = {ids.decode(r["recordObservation"]["id"], "Observation") for r in recorded}
    assert sorted((e[0], e[1], e[3]) for e in events) == [
        ("READ", "Observation", patient_id), ("READ", "Observation", patient_id),
        ("READ", "Patient", patient_id)]
    assert {e[2] for e in events if e[1] == "Observation"} == observations


Setup = Callable[[Api, TenantKit], Awaitable[tuple[str, dict[str, Any], str]]]


async def register_patient(api: Api, tenant: TenantKit) -> tuple[str, dict[str, Any], str]:
    return ("mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
            {"i": {"mrn": "AUD-1", "givenName": "A", "familyName": "B",
                   "birthDate": "1990-01-01", "facilityId": tenant.facilities["DHK"]}},
            tenant.admin_token)


async def set_scale(api: Api, tenant: TenantKit) -> tuple[str, dict[str, Any], str]:
    patient = await tenant.patient(tenant.facilities["DHK"])
    return ("mutation($i: SetSpo2ScaleInput!) { setSpo2Scale(input: $i) { id } }",
            {"i": {"patientId": patient, "scale": "SCALE_2"}},
            await tenant.user(Role.CLINICIAN))


async def admit(api: Api, tenant: TenantKit) -> tuple[str, dict[str, Any], str]:
    ward = await tenant.ward(tenant.facilities["DHK"])
    bed = await tenant.bed(ward, "A-1")
    patient = await tenant.patient(tenant.facilities["DHK"])
    return ("mutation($i: AdmitPatientInput!) { admitPatient(input: $i) { id } }",
            {"i": {"patientId": patient, "bedId": bed}}, await tenant.user(Role.NURSE))


async def record(api: Api, tenant: TenantKit) -> tuple[str, dict[str, Any], str]:
    patient = await tenant.patient(tenant.facilities["DHK"])
    return ("mutation($i: RecordObservationInput!) { recordObservation(input: $i) { id } }",
            {"i": {"patientId": patient, **NORMAL}}, await tenant.user(Role.NURSE))


async def revoke_token(api: Api, tenant: TenantKit) -> tuple[str, dict[str, Any], str]:
    token = await tenant.partner(["patients:read"])
    data = await api.data("{ viewer { partnerToken { id } } }", {}, token)
    return ("mutation($id: ID!) { revokePartnerToken(input: {id: $id}) { id } }",
            {"id": data["viewer"]["partnerToken"]["id"]}, tenant.admin_token)


@pytest.mark.parametrize(("setup", "operation", "object_type"), [
    pytest.param(register_patient, "CREATE", "Patient", id="createPatient"),
    pytest.param(set_scale, "UPDATE", "Patient", id="setSpo2Scale"),
    pytest.param(admit, "CREATE", "Admission", id="admitPatient"),
    pytest.param(record, "CREATE", "Observation", id="recordObservation"),
    pytest.param(revoke_token, "UPDATE", "PartnerToken", id="revokePartnerToken"),
])
async def test_each_write_is_recorded_under_its_request_id(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, setup: Setup, operation: str,
    object_type: str,
) -> None:
    query, variables, token = await setup(api, tenant)
    response = await api.post(query, variables, token)
    body = response.json()
    assert "errors" not in body, body
    written = ids.parse(next(iter(body["data"].values()))["id"])
    assert written is not None
    events = await events_of_request(database, tenant, response.headers["x-request-id"])
    assert (operation, object_type, written[1]) in [e[:3] for e in events]


async def test_a_mutation_undone_by_a_later_error_leaves_no_event(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    """The registration is rolled back with the failing recording, and its event with it: the
    trail never claims a write that did not happen."""
    theirs = await other_tenant.patient(other_tenant.facilities["DHK"])
    ours = await tenant.patient(tenant.facilities["DHK"])
    nurse = await tenant.user(Role.NURSE)
    document = """
        mutation($p: CreatePatientInput!, $o: RecordObservationInput!) {
          registered: createPatient(input: $p) { id }
          recorded: recordObservation(input: $o) { id }
        }"""
    registration = {"mrn": "UNDONE-1", "givenName": "A", "familyName": "B",
                    "birthDate": "1990-01-01"}
    before = await event_count(database, tenant)
    response = await api.post(document, {"p": registration,
                                          "o": {"patientId": theirs, **NORMAL}}, nurse)
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await event_count(database, tenant) == before
    # The same document for a patient of ours writes both, and records both in its one event.
    response = await api.post(document, {"p": registration,
                                          "o": {"patientId": ours, **NORMAL}}, nurse)
    assert await event_count(database, tenant) == before + 1
    assert [e[:2] for e in await events_of_request(
        database, tenant, response.headers["x-request-id"])] == [
        ("CREATE", "Patient"), ("CREATE", "Observation")]


async def test_a_request_touching_many_objects_appends_one_event(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    """The audit trail costs a row per request, not per patient or object."""
    patients = [await tenant.patient(tenant.facilities["DHK"]) for _ in range(3)]
    nurse = await tenant.user(Role.NURSE)
    for patient in patients:
        await api.data("""mutation($input: RecordObservationInput!) {
            recordObservation(input: $input) { id } }""",
                       {"input": {"patientId": patient, **NORMAL}}, nurse)
    before = await event_count(database, tenant)
    response = await api.post("""{ patients(first: 10) { edges { node { id
        observations { edges { node { id } } } } } } }""", {}, nurse)
    assert "errors" not in response.json()
    assert await event_count(database, tenant) == before + 1
    [row] = await admin_fetch(database.admin_url, """
        select operations, patient_ids, jsonb_array_length(objects) as objects
        from app.audit_events where tenant_id = $1 and request_id = $2""",
                              tenant.tenant_id, response.headers["x-request-id"])
    assert row["operations"] == ["READ"]
    assert row["patient_ids"] == sorted(ids.decode(p, "Patient") for p in patients)
    assert row["objects"] == 6  # three patients, three observations


# -- the auditor reads it -----------------------------------------------------------------------

async def test_auditor_reads_events_by_patient_with_every_field(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    nurse = await tenant.user(Role.NURSE)
    read = await api.post(PATIENT, {"id": patient}, nurse)
    auditor = await tenant.user(Role.AUDITOR)
    data = await api.data(EVENTS, {"patientId": patient}, auditor)
    nodes = [e["node"] for e in data["auditEvents"]["edges"]]
    # Newest first: the nurse's read, then the admin's registration.
    assert [(n["operations"], n["actorRole"]) for n in nodes] == [(["READ"], "NURSE"),
                                                                  (["CREATE"], "ADMIN")]
    newest = nodes[0]
    assert newest["requestId"] == read.headers["x-request-id"]
    assert newest["actorType"] == "USER"
    assert newest["actorId"] == ids.encode("User", await user_id_of(api, nurse))
    assert newest["patientIds"] == [patient]
    assert newest["objects"] == [{"operation": "READ", "objectType": "Patient",
                                  "objectId": patient, "patientId": patient}]
    assert datetime.fromisoformat(newest["occurredAt"]) > datetime.now(UTC) - timedelta(
        minutes=5)
    fetched = await api.data(
        "query($id: ID!) { node(id: $id) { ... on AuditEvent { requestId } } }",
        {"id": newest["id"]}, auditor)
    assert fetched["node"] == {"requestId": newest["requestId"]}


async def test_auditor_filters_by_actor_and_time_and_pages_without_gaps(
    api: Api, tenant: TenantKit
) -> None:
    patients = [await tenant.patient(tenant.facilities["DHK"]) for _ in range(3)]
    nurse = await tenant.user(Role.NURSE)
    for patient in patients:
        await api.data(PATIENT, {"id": patient}, nurse)
    auditor = await tenant.user(Role.AUDITOR)
    actor = ids.encode("User", await user_id_of(api, nurse))
    pages: list[str] = []
    after = None
    while True:
        data = (await api.data(EVENTS, {"actorId": actor, "first": 2, "after": after},
                               auditor))["auditEvents"]
        pages += [p for e in data["edges"] for p in e["node"]["patientIds"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert pages == list(reversed(patients))
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await api.data(EVENTS, {"actorId": actor, "from": future}, auditor)
            )["auditEvents"]["edges"] == []
    assert len((await api.data(EVENTS, {"actorId": actor, "from": past, "to": future},
                               auditor))["auditEvents"]["edges"]) == 3


async def test_reading_the_trail_is_not_itself_recorded(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    auditor = await tenant.user(Role.AUDITOR)
    before = await event_count(database, tenant)
    data = await api.data(EVENTS, {"patientId": patient}, auditor)
    assert data["auditEvents"]["edges"]
    assert await event_count(database, tenant) == before


async def test_a_time_without_offset_is_refused(api: Api, tenant: TenantKit) -> None:
    body = await api.gql(EVENTS, {"from": "2025-01-01T00:00:00"},
                         await tenant.user(Role.AUDITOR))
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "from"}


async def test_an_auditor_sees_only_its_own_tenants_trail(
    api: Api, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    theirs = await other_tenant.patient(other_tenant.facilities["DHK"])
    await api.data(PATIENT, {"id": theirs}, other_tenant.admin_token)
    auditor = await tenant.user(Role.AUDITOR)
    everything = (await api.data(EVENTS, {"first": 50}, auditor))["auditEvents"]["edges"]
    assert everything
    assert theirs not in {p for e in everything for p in e["node"]["patientIds"]}


# -- nobody changes it --------------------------------------------------------------------------

CHANGES = [
    pytest.param("update app.audit_events set operations = '{DELETE}' where tenant_id = $1",
                 id="update"),
    pytest.param("delete from app.audit_events where tenant_id = $1", id="delete"),
    pytest.param("truncate app.audit_events", id="truncate"),
]


async def trail(database: DatabaseUnderTest, tenant: TenantKit) -> list[tuple[Any, ...]]:
    rows = await admin_fetch(database.admin_url,
                             "select * from app.audit_events where tenant_id = $1 order by seq",
                             tenant.tenant_id)
    return [tuple(r) for r in rows]


async def attempt(connection: asyncpg.Connection, statement: str, tenant: TenantKit) -> None:
    args = (tenant.tenant_id,) if "$1" in statement else ()
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await connection.execute(statement, *args)


@pytest.mark.parametrize("statement", CHANGES)
@pytest.mark.parametrize("role", [Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.BILLING,
                                  Role.AUDITOR, Role.PARTNER], ids=lambda r: r.value)
async def test_no_request_role_changes_or_removes_an_event(
    database: DatabaseUnderTest, tenant: TenantKit, role: Role, statement: str
) -> None:
    before = await trail(database, tenant)
    assert before
    async with as_role(database.api_url, role, tenant.tenant_id) as connection:
        await attempt(connection, statement, tenant)
    assert await trail(database, tenant) == before


@pytest.mark.parametrize("statement", CHANGES)
async def test_the_apis_login_role_changes_or_removes_no_event(
    database: DatabaseUnderTest, tenant: TenantKit, statement: str
) -> None:
    before = await trail(database, tenant)
    connection = await asyncpg.connect(database.api_url)
    try:
        await attempt(connection, statement, tenant)
    finally:
        await connection.close()
    assert await trail(database, tenant) == before


@pytest.mark.parametrize("statement", CHANGES)
@pytest.mark.parametrize("who", ["wg_audit_writer", "owner"])
async def test_neither_the_audit_writer_nor_the_tables_owner_changes_an_event(
    database: DatabaseUnderTest, tenant: TenantKit, statement: str, who: str
) -> None:
    """The writer appends through its function only; the owner (here a superuser, who skips
    every privilege check) is stopped by the trigger."""
    before = await trail(database, tenant)
    connection = await asyncpg.connect(database.admin_url)
    try:
        async with connection.transaction():
            if who == "wg_audit_writer":
                claims = Claims(tenant_id=tenant.tenant_id, role=Role.ADMIN)
                await begin_with_claims(connection, claims, "probe", 10_000)
                await connection.execute("set local role wg_audit_writer")
            await attempt(connection, statement, tenant)
    finally:
        await connection.close()
    assert await trail(database, tenant) == before


# -- tampering is found -------------------------------------------------------------------------

def audit_verify(database: DatabaseUnderTest, *args: str,
                 admin_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WARDGRAPH_DATABASE_URL": database.api_url,
           "WARDGRAPH_ADMIN_DATABASE_URL": admin_url or database.admin_url}
    return subprocess.run([sys.executable, "-m", "wardgraph.ops.cli", "audit", "verify", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


async def trail_of_five(api: Api, tenant: TenantKit) -> int:
    """Reads that bring the tenant's trail to at least five events; its length."""
    patient = await tenant.patient(tenant.facilities["DHK"])
    for _ in range(3):
        await api.data(PATIENT, {"id": patient}, tenant.admin_token)
    [report] = await verify(tenant.admin_url, tenant.slug)
    assert report.intact and report.events >= 5
    return report.events


async def tamper(database: DatabaseUnderTest, statement: str, *args: Any) -> None:
    """As a superuser with triggers off for the session (replica mode): what a DBA could do."""
    connection = await asyncpg.connect(database.admin_url)
    try:
        async with connection.transaction():
            await connection.execute("set local session_replication_role = replica")
            await connection.execute(statement, *args)
    finally:
        await connection.close()


async def test_verify_reports_an_intact_chain_and_its_head(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    events = await trail_of_five(api, tenant)
    result = audit_verify(database, "--tenant", tenant.slug)
    assert result.returncode == 0, result.stderr
    [line, summary] = result.stdout.splitlines()
    assert line.startswith(f"{tenant.slug}: intact, {events} events, head {events} sha256:")
    assert summary == "1 tenant(s) verified, 0 broken"


@pytest.mark.parametrize(("statement", "broken_at", "reason"), [
    pytest.param("update app.audit_events set actor_role = 'AUDITOR' "
                 "where tenant_id = $1 and seq = 3", 3,
                 "its fields do not match its hash (the event was altered)", id="altered"),
    pytest.param("update app.audit_events set patient_ids = '{}' "
                 "where tenant_id = $1 and seq = 3", 3,
                 "its fields do not match its hash (the event was altered)",
                 id="patient-removed"),
    pytest.param("update app.audit_events set objects = objects - 0 "
                 "where tenant_id = $1 and seq = 3", 3,
                 "its fields do not match its hash (the event was altered)",
                 id="object-removed"),
    pytest.param("update app.audit_events set patient_ids = '{}', "
                 "hash = app.audit_event_hash(prev_hash, tenant_id, seq, occurred_at, "
                 "request_id, actor_type, actor_id, actor_role, operations, '{}', objects) "
                 "where tenant_id = $1 and seq = 3", 4,
                 "its prev_hash is not the hash of event 3 (an earlier event was replaced)",
                 id="altered-and-rehashed"),
    pytest.param("delete from app.audit_events where tenant_id = $1 and seq = 2", 2,
                 "event 2 is missing (deleted)", id="deleted"),
    pytest.param("delete from app.audit_events where tenant_id = $1 and seq in (2, 3)", 2,
                 "events 2 to 3 are missing (deleted)", id="two-deleted"),
])
async def test_verify_finds_the_first_broken_link_and_exits_1(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, statement: str, broken_at: int,
    reason: str,
) -> None:
    await trail_of_five(api, tenant)
    await tamper(database, statement, tenant.tenant_id)
    result = audit_verify(database, "--tenant", tenant.slug)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"{tenant.slug}: BROKEN at event {broken_at}: {reason}")


async def test_verify_finds_events_deleted_from_the_end(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    events = await trail_of_five(api, tenant)
    await tamper(database, "delete from app.audit_events where tenant_id = $1 and seq = $2",
                 tenant.tenant_id, events)
    result = audit_verify(database, "--tenant", tenant.slug)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        f"{tenant.slug}: BROKEN at event {events}: event {events} is missing from the end "
        f"(deleted); the chain head is at event {events}")


async def test_verify_of_every_tenant_names_the_tampered_one_and_exits_1(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    await trail_of_five(api, tenant)
    await tamper(database, "update app.audit_events set request_id = 'forged' "
                 "where tenant_id = $1 and seq = 1", tenant.tenant_id)
    result = audit_verify(database)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"{tenant.slug}: BROKEN at event 1: its fields do not match its hash (the event was " \
        "altered)" in lines
    assert [line for line in lines if line.startswith(f"{other_tenant.slug}: ")] == [
        line for line in lines if line.startswith(f"{other_tenant.slug}: intact, ")]


async def test_verify_refuses_a_role_that_cannot_read_every_tenant(
    database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    result = audit_verify(database, "--tenant", tenant.slug, admin_url=database.api_url)
    assert result.returncode == 2
    assert "does not bypass row security" in result.stderr


async def test_verify_of_an_unknown_tenant_exits_2(database: DatabaseUnderTest) -> None:
    result = audit_verify(database, "--tenant", "no-such-tenant")
    assert (result.returncode, result.stderr) == (2, "wardgraph: no tenant 'no-such-tenant'\n")


async def test_concurrent_requests_append_one_unbroken_chain(
    api: Api, tenant: TenantKit
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    [before] = await verify(tenant.admin_url, tenant.slug)
    responses = await asyncio.gather(*(api.post(PATIENT, {"id": patient}, tenant.admin_token)
                                       for _ in range(20)))
    assert all("errors" not in r.json() for r in responses)
    [after] = await verify(tenant.admin_url, tenant.slug)
    assert after.intact and after.events == before.events + 20
