"""The PHI audit append: one row per request, whatever it touched. The row holds the request's
objects in order, its distinct operations and patient ids, and the hash of all of it chained to
the tenant's previous event; an empty request appends nothing; concurrent requests of one
tenant append in the order of the tenant's head lock; "who touched patient X" is answered from
the GIN index on patient ids, for the auditor's role too."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import asyncpg
import pytest

from tests.factories import TenantKit, admin_fetch, make_tenant
from tests.harness import Api, DatabaseUnderTest
from tests.sql_roles import as_role
from wardgraph import ids
from wardgraph.auth.claims import Claims, Role
from wardgraph.db.audit import AuditEvent, record_audit_events
from wardgraph.db.session import Session, begin_with_claims, claimed_transaction
from wardgraph.ops.audit_verify import verify

# Every stored event next to what app.audit_event_hash() makes of its fields and its
# predecessor's hash.
CHAIN = """
select e.seq, e.id, e.request_id, e.prev_hash, e.hash, e.operations, e.patient_ids, e.objects,
       lag(e.hash) over (order by e.seq) as previous_hash,
       app.audit_event_hash(e.prev_hash, e.tenant_id, e.seq, e.occurred_at, e.request_id,
           e.actor_type, e.actor_id, e.actor_role, e.operations, e.patient_ids, e.objects)
           as expected_hash
from app.audit_events e where e.tenant_id = $1 order by e.seq
"""

HEAD = "select seq, hash from app.audit_chain_heads where tenant_id = $1"


def events_of(count: int) -> list[AuditEvent]:
    """Distinct objects of every shape a request records: reads and writes, with and without an
    object id or a patient."""
    operations = ("READ", "CREATE", "UPDATE", "DELETE")
    events = []
    for n in range(count):
        patient = uuid.uuid4() if n % 3 else None
        object_id = None if n % 7 == 6 and (patient or n == 6) else uuid.uuid4()
        events.append(AuditEvent(operations[n % 4], ("Patient", "Observation", "Bed")[n % 3],
                                 object_id, patient))
    return events


def nurse_claims(tenant: TenantKit) -> Claims:
    return Claims(tenant_id=tenant.tenant_id, role=Role.NURSE, user_id=uuid.uuid4())


@pytest.fixture
async def unaudited(api: Api, database: DatabaseUnderTest) -> TenantKit:
    """A fresh tenant whose chain is empty (no facility created through the API yet)."""
    return await make_tenant(api, database.admin_url)


@asynccontextmanager
async def request_transaction(database: DatabaseUnderTest, claims: Claims,
                              request_id: str) -> AsyncIterator[asyncpg.Connection]:
    """A wg_api connection in a transaction with a request's role and claims, committed at the
    end (unless the block raises)."""
    connection = await asyncpg.connect(database.api_url)
    try:
        async with claimed_transaction(connection, claims, request_id, 30_000):
            yield connection
    finally:
        await connection.close()


async def append(database: DatabaseUnderTest, claims: Claims, events: list[AuditEvent],
                 request_id: str | None = None) -> None:
    """One request's append, through the statement the API sends at commit."""
    async with request_transaction(database, claims, request_id or uuid.uuid4().hex) as c:
        await record_audit_events(Session(c), events, datetime.now(UTC))


async def chain(database: DatabaseUnderTest, tenant: TenantKit) -> list[asyncpg.Record]:
    return await admin_fetch(database.admin_url, CHAIN, tenant.tenant_id)


def assert_linked(rows: list[asyncpg.Record]) -> None:
    """Dense seq from 1, each prev_hash the previous hash, each hash app.audit_event_hash()."""
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["prev_hash"] == bytes(32)
    assert [r["seq"] for r in rows[1:] if r["prev_hash"] != r["previous_hash"]] == []
    assert [r["seq"] for r in rows if r["hash"] != r["expected_hash"]] == []


async def assert_intact(database: DatabaseUnderTest, tenant: TenantKit, events: int) -> None:
    [report] = await verify(database.admin_url, tenant.slug)
    assert (report.intact, report.events, report.head_seq) == (True, events, events), \
        report.line()


# -- one call, one row ----------------------------------------------------------------------------

@pytest.mark.parametrize("count", [
    pytest.param(1, id="one-object"),
    pytest.param(66, id="a-dashboard"),
    pytest.param(500, id="five-hundred"),
])
async def test_a_request_of_any_size_appends_one_event_to_a_chain_that_verifies(
    database: DatabaseUnderTest, unaudited: TenantKit, count: int
) -> None:
    await append(database, nurse_claims(unaudited), events_of(count))
    await append(database, nurse_claims(unaudited), events_of(count))
    rows = await chain(database, unaudited)
    assert len(rows) == 2
    assert [len(json.loads(r["objects"])) for r in rows] == [count, count]
    assert_linked(rows)
    await assert_intact(database, unaudited, 2)


async def test_an_empty_request_appends_nothing_and_leaves_the_head_as_it_was(
    database: DatabaseUnderTest, unaudited: TenantKit
) -> None:
    claims = nurse_claims(unaudited)
    await append(database, claims, events_of(3))
    head = await admin_fetch(database.admin_url, HEAD, unaudited.tenant_id)
    async with request_transaction(database, claims, "empty") as connection:
        await connection.execute("select app.record_audit_events('[]'::jsonb, now())")
    assert await admin_fetch(database.admin_url, HEAD, unaudited.tenant_id) == head
    await assert_intact(database, unaudited, 1)


@pytest.mark.parametrize("who", ["user", "partner"])
async def test_the_event_holds_the_objects_their_operations_and_patients_and_the_hash(
    database: DatabaseUnderTest, unaudited: TenantKit, who: str
) -> None:
    actor, tenant_id = uuid.uuid4(), unaudited.tenant_id
    claims = (Claims(tenant_id=tenant_id, role=Role.NURSE, user_id=actor) if who == "user"
              else Claims(tenant_id=tenant_id, role=Role.PARTNER, partner_token_id=actor))
    events = events_of(40)
    at = datetime(2025, 3, 9, 23, 59, 59, 999_999, tzinfo=UTC)
    async with request_transaction(database, claims, "req-fields") as connection:
        await record_audit_events(Session(connection), events, at)
    [row] = await admin_fetch(database.admin_url, """
        select operations, patient_ids, objects, actor_type, actor_id, actor_role, request_id,
               occurred_at
        from app.audit_events where tenant_id = $1""", tenant_id)
    kind = "USER" if who == "user" else "PARTNER"
    assert json.loads(row["objects"]) == [e.as_json() for e in events]
    assert row["operations"] == ["CREATE", "DELETE", "READ", "UPDATE"]
    assert row["patient_ids"] == sorted({e.patient_id for e in events if e.patient_id})
    assert tuple(row)[3:] == (kind, actor, claims.role.value, "req-fields", at)
    assert_linked(await chain(database, unaudited))


async def test_an_object_touched_twice_in_a_request_is_recorded_once(
    database: DatabaseUnderTest, unaudited: TenantKit
) -> None:
    patient = uuid.uuid4()
    read = AuditEvent("READ", "Patient", patient, patient)
    await append(database, nurse_claims(unaudited), [read, read, read])
    [row] = await chain(database, unaudited)
    assert json.loads(row["objects"]) == [read.as_json()]


async def test_event_ids_are_distinct_random_version_4_uuids(
    database: DatabaseUnderTest, unaudited: TenantKit
) -> None:
    for _ in range(20):
        await append(database, nurse_claims(unaudited), events_of(3))
    event_ids = [r["id"] for r in await chain(database, unaudited)]
    assert len(set(event_ids)) == 20
    assert {(i.version, i.variant) for i in event_ids} == {(4, uuid.RFC_4122)}


async def test_an_append_without_a_tenant_claim_is_refused(database: DatabaseUnderTest) -> None:
    events = json.dumps([AuditEvent("READ", "Patient", uuid.uuid4()).as_json()])
    async with as_role(database.api_url, Role.NURSE, None) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError,
                           match="an audit event needs a tenant claim"):
            await connection.execute("select app.record_audit_events($1::jsonb, now())", events)


# -- through the API ------------------------------------------------------------------------------

BATCH = 25  # patients created, then read, in one request (the alias limit is 30)


async def create_patients(api: Api, tenant: TenantKit) -> list[str]:
    """BATCH patients in one mutation document (one request, one event)."""
    facility = json.dumps(tenant.facilities["DHK"])
    fields = " ".join(
        f'p{n}: createPatient(input: {{mrn: "BATCH-{uuid.uuid4().hex[:10]}", givenName: "A", '
        f'familyName: "B", birthDate: "1970-01-01", facilityId: {facility}}}) {{ id }}'
        for n in range(BATCH))
    data = await api.data(f"mutation {{ {fields} }}", {}, tenant.admin_token)
    return [data[f"p{n}"]["id"] for n in range(BATCH)]


def read_patients(patients: list[str]) -> str:
    """One query document reading each patient."""
    fields = " ".join(f"p{n}: patient(id: {json.dumps(p)}) {{ id mrn }}"
                      for n, p in enumerate(patients))
    return f"query {{ {fields} }}"


async def test_a_request_reading_many_patients_appends_one_event_naming_each_of_them(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    patients = await create_patients(api, tenant)
    nurse = await tenant.user(Role.NURSE)
    response = await api.post(read_patients(patients), {}, nurse)
    assert [p["id"] for p in response.json()["data"].values()] == patients
    rows = await chain(database, tenant)
    [read] = [r for r in rows if r["request_id"] == response.headers["x-request-id"]]
    patient_ids = [ids.decode(p, "Patient") for p in patients]
    assert read["operations"] == ["READ"]
    assert read["patient_ids"] == sorted(patient_ids)
    assert [o["objectId"] for o in json.loads(read["objects"])] == [str(p) for p in patient_ids]
    # The facility, the patients, the nurse, the read: one event each.
    assert len(rows) == 4
    assert_linked(rows)
    await assert_intact(database, tenant, len(rows))


async def test_concurrent_requests_of_one_tenant_append_one_event_each_in_turn(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    document = read_patients(await create_patients(api, tenant))
    nurses = [await tenant.user(Role.NURSE) for _ in range(4)]
    before = len(await chain(database, tenant))
    responses = await asyncio.gather(*(api.post(document, {}, nurse)
                                       for nurse in nurses for _ in range(2)))
    assert {len(r.json()["data"]) for r in responses} == {BATCH}
    rows = await chain(database, tenant)
    assert sorted(r["request_id"] for r in rows[before:]) == sorted(
        r.headers["x-request-id"] for r in responses)
    assert_linked(rows)
    await assert_intact(database, tenant, len(rows))


# -- the head lock orders appends -----------------------------------------------------------------

async def lock_waiter(database: DatabaseUnderTest, pid: int) -> bool:
    [row] = await admin_fetch(database.admin_url,
                              "select wait_event_type from pg_stat_activity where pid = $1", pid)
    return bool(row["wait_event_type"] == "Lock")


@pytest.mark.parametrize("earlier", [
    pytest.param(0, id="the-tenants-first-appends"),
    pytest.param(1, id="a-head-row-exists"),
])
async def test_a_second_append_waits_for_the_first_and_links_after_it(
    database: DatabaseUnderTest, unaudited: TenantKit, earlier: int
) -> None:
    if earlier:
        await append(database, nurse_claims(unaudited), events_of(3), "earlier")
    at = datetime.now(UTC)
    one = await asyncpg.connect(database.api_url)
    two = await asyncpg.connect(database.api_url)
    try:
        started = []
        for connection, request_id in ((one, "first"), (two, "second")):
            started.append(await begin_with_claims(
                connection, nurse_claims(unaudited), request_id, 30_000))
        await record_audit_events(Session(one), events_of(120), at)
        pid = await two.fetchval("select pg_backend_pid()")
        waiting = asyncio.create_task(record_audit_events(Session(two), events_of(80), at))
        for _ in range(200):
            if await lock_waiter(database, pid):
                break
            await asyncio.sleep(0.05)
        assert await lock_waiter(database, pid) and not waiting.done()
        await started[0].execute("commit")
        await waiting
        await started[1].execute("commit")
    finally:
        await one.close()
        await two.close()
    rows = await chain(database, unaudited)
    assert [(r["seq"], r["request_id"]) for r in rows[earlier:]] == [
        (earlier + 1, "first"), (earlier + 2, "second")]
    assert_linked(rows)
    await assert_intact(database, unaudited, earlier + 2)


# -- who touched patient X ------------------------------------------------------------------------

# The look-up alone (the function adds the tenant, whose btree indexes win on a small trail).
PATIENT_LOOKUP = "select e.seq from app.audit_events e where e.patient_ids @> array[$1::uuid]"


async def plan_of(connection: asyncpg.Connection, patient: uuid.UUID) -> str:
    """The plan with sequential scans priced out: an index the planner may use, it uses (the
    role's policies still apply)."""
    await connection.execute("set local enable_seqscan = off")
    rows = await connection.fetch("explain (costs off) " + PATIENT_LOOKUP, patient)
    return "\n".join(r[0] for r in rows)


async def test_the_patient_look_up_runs_on_the_gin_index_as_its_functions_owner(
    database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    connection = await asyncpg.connect(database.admin_url)
    try:
        async with connection.transaction():
            claims = Claims(tenant_id=tenant.tenant_id, role=Role.AUDITOR)
            await begin_with_claims(connection, claims, "plan", 10_000)
            await connection.execute("set local role wg_audit_reader")
            assert "audit_events_patients" in await plan_of(connection, uuid.uuid4())
    finally:
        await connection.close()


async def test_the_auditors_own_role_could_not_use_the_gin_index(
    database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    """Why the look-up is a function: `@>` is not leakproof, so under the restrictive
    same-tenant policy the auditor's own query may not reach the index."""
    async with as_role(database.api_url, Role.AUDITOR, tenant.tenant_id) as connection:
        assert "audit_events_patients" not in await plan_of(connection, uuid.uuid4())


async def test_the_patient_look_up_finds_only_the_callers_tenants_events(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    await api.data("query($id: ID!) { patient(id: $id) { id } }", {"id": patient},
                   tenant.admin_token)
    patient_id = ids.decode(patient, "Patient")
    found = {}
    for kit in (tenant, other_tenant):
        async with as_role(database.api_url, Role.AUDITOR, kit.tenant_id) as connection:
            found[kit.slug] = await connection.fetchval(
                "select app.audit_event_seqs_touching($1)", patient_id)
    assert len(found[tenant.slug]) == 2  # registered, then read
    assert found[other_tenant.slug] == []


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.BILLING,
                                  Role.PARTNER], ids=lambda r: r.value)
async def test_only_the_auditor_may_call_the_patient_look_up(
    database: DatabaseUnderTest, tenant: TenantKit, role: Role
) -> None:
    async with as_role(database.api_url, role, tenant.tenant_id) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetchval("select app.audit_event_seqs_touching($1)", uuid.uuid4())
