"""The PHI audit append is set-based: one call stores a request's events with one INSERT, and
the chain it writes is the chain the row-by-row append wrote, hash for hash. Every batch, of any
size, verifies; concurrent requests of one tenant append their batches whole, one after the
other, in the order of the tenant's head lock; a chain begun by the row-by-row append goes on
verifying after set-based appends."""

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
from wardgraph.auth.claims import Claims, Role
from wardgraph.db.audit import AuditEvent, record_audit_events
from wardgraph.db.session import Session, begin_with_claims, claimed_transaction
from wardgraph.ops.audit_verify import verify

# Every stored event next to what app.audit_event_hash() makes of its fields and its
# predecessor's hash: the reference serialisation the set-based append inlines.
CHAIN = """
select e.seq, e.id, e.request_id, e.prev_hash, e.hash,
       lag(e.hash) over (order by e.seq) as previous_hash,
       app.audit_event_hash(e.prev_hash, e.tenant_id, e.seq, e.occurred_at, e.request_id,
           e.actor_type, e.actor_id, e.actor_role, e.operation, e.object_type, e.object_id,
           e.patient_id) as expected_hash
from app.audit_events e where e.tenant_id = $1 order by e.seq
"""

HEAD = "select seq, hash from app.audit_chain_heads where tenant_id = $1"

# The append as released before it became set-based, verbatim but for its inputs (read from
# transaction settings, a DO block having no parameters): one INSERT per event, each hash
# computed by app.audit_event_hash(). Run as the superuser with a request's claims set.
ROW_BY_ROW_APPEND = """
do $append$
declare
    events     jsonb := current_setting('wgtest.events')::jsonb;
    occurred_at timestamptz := current_setting('wgtest.occurred_at')::timestamptz;
    tid        uuid := app.current_tenant_id();
    partner_id uuid := app.current_partner_token_id();
    actor      uuid := coalesce(app.current_user_id(), partner_id);
    kind       text := case when partner_id is not null then 'PARTNER' else 'USER' end;
    role_name  text := coalesce(nullif(current_setting('wg.role', true), ''), 'unknown');
    request    text := coalesce(nullif(current_setting('wg.request_id', true), ''), '');
    last_seq   bigint;
    last_hash  bytea;
    event      jsonb;
begin
    insert into app.audit_chain_heads (tenant_id, seq, hash)
    values (tid, 0, decode(repeat('00', 32), 'hex'))
    on conflict (tenant_id) do nothing;
    select h.seq, h.hash into last_seq, last_hash
    from app.audit_chain_heads h where h.tenant_id = tid for update;
    for event in select value from jsonb_array_elements(events) loop
        last_seq := last_seq + 1;
        insert into app.audit_events (tenant_id, seq, occurred_at, request_id, actor_type,
            actor_id, actor_role, operation, object_type, object_id, patient_id, prev_hash, hash)
        values (tid, last_seq, occurred_at, request, kind, actor, role_name,
            event->>'operation', event->>'objectType', (event->>'objectId')::uuid,
            (event->>'patientId')::uuid, last_hash,
            app.audit_event_hash(last_hash, tid, last_seq, occurred_at, request, kind, actor,
                role_name, event->>'operation', event->>'objectType',
                (event->>'objectId')::uuid, (event->>'patientId')::uuid));
        last_hash := app.audit_event_hash(last_hash, tid, last_seq, occurred_at, request, kind,
            actor, role_name, event->>'operation', event->>'objectType',
            (event->>'objectId')::uuid, (event->>'patientId')::uuid);
    end loop;
    update app.audit_chain_heads h set seq = last_seq, hash = last_hash where h.tenant_id = tid;
end
$append$
"""


def events_of(count: int) -> list[AuditEvent]:
    """Distinct events of every shape a request records: reads and writes, with and without an
    object id or a patient (one event has neither: more such would repeat one another)."""
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


def seqs_by_request(rows: list[asyncpg.Record]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for row in rows:
        found.setdefault(row["request_id"], []).append(row["seq"])
    return found


# -- one call, many events ------------------------------------------------------------------------

@pytest.mark.parametrize("count", [
    pytest.param(1, id="one-event"),
    pytest.param(66, id="a-dashboard"),
    pytest.param(500, id="five-hundred"),
])
async def test_a_batch_of_any_size_appends_a_chain_that_verifies(
    database: DatabaseUnderTest, unaudited: TenantKit, count: int
) -> None:
    await append(database, nurse_claims(unaudited), events_of(count))
    await append(database, nurse_claims(unaudited), events_of(count))
    rows = await chain(database, unaudited)
    assert len(rows) == 2 * count
    assert_linked(rows)
    await assert_intact(database, unaudited, 2 * count)


async def test_an_empty_batch_appends_nothing_and_leaves_the_head_as_it_was(
    database: DatabaseUnderTest, unaudited: TenantKit
) -> None:
    claims = nurse_claims(unaudited)
    await append(database, claims, events_of(3))
    head = await admin_fetch(database.admin_url, HEAD, unaudited.tenant_id)
    async with request_transaction(database, claims, "empty") as connection:
        await connection.execute("select app.record_audit_events('[]'::jsonb, now())")
    assert await admin_fetch(database.admin_url, HEAD, unaudited.tenant_id) == head
    await assert_intact(database, unaudited, 3)


@pytest.mark.parametrize("who", ["user", "partner"])
async def test_each_stored_event_holds_its_fields_and_the_hash_of_them(
    database: DatabaseUnderTest, unaudited: TenantKit, who: str
) -> None:
    actor, tenant_id = uuid.uuid4(), unaudited.tenant_id
    claims = (Claims(tenant_id=tenant_id, role=Role.NURSE, user_id=actor) if who == "user"
              else Claims(tenant_id=tenant_id, role=Role.PARTNER, partner_token_id=actor))
    events = events_of(40)
    at = datetime(2025, 3, 9, 23, 59, 59, 999_999, tzinfo=UTC)
    async with request_transaction(database, claims, "req-fields") as connection:
        await record_audit_events(Session(connection), events, at)
    rows = await admin_fetch(database.admin_url, """
        select operation, object_type, object_id, patient_id, actor_type, actor_id, actor_role,
               request_id, occurred_at
        from app.audit_events where tenant_id = $1 order by seq""", tenant_id)
    kind = "USER" if who == "user" else "PARTNER"
    assert [tuple(r) for r in rows] == [
        (e.operation, e.object_type, e.object_id, e.patient_id, kind, actor,
         claims.role.value, "req-fields", at) for e in events]
    assert_linked(await chain(database, unaudited))


async def test_event_ids_are_distinct_random_version_4_uuids(
    database: DatabaseUnderTest, unaudited: TenantKit
) -> None:
    for _ in range(2):
        await append(database, nurse_claims(unaudited), events_of(300))
    ids = [r["id"] for r in await chain(database, unaudited)]
    assert len(set(ids)) == 600
    assert {(i.version, i.variant) for i in ids} == {(4, uuid.RFC_4122)}


async def test_an_append_without_a_tenant_claim_is_refused(database: DatabaseUnderTest) -> None:
    events = json.dumps([AuditEvent("READ", "Patient", uuid.uuid4()).as_json()])
    async with as_role(database.api_url, Role.NURSE, None) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError,
                           match="an audit event needs a tenant claim"):
            await connection.execute("select app.record_audit_events($1::jsonb, now())", events)


# -- through the API ------------------------------------------------------------------------------

BATCH = 25  # patients created, then read, in one request (the alias limit is 30)


async def create_patients(api: Api, tenant: TenantKit) -> list[str]:
    """BATCH patients in one mutation document (one request, one batch of CREATE events)."""
    facility = json.dumps(tenant.facilities["DHK"])
    fields = " ".join(
        f'p{n}: createPatient(input: {{mrn: "BATCH-{uuid.uuid4().hex[:10]}", givenName: "A", '
        f'familyName: "B", birthDate: "1970-01-01", facilityId: {facility}}}) {{ id }}'
        for n in range(BATCH))
    data = await api.data(f"mutation {{ {fields} }}", {}, tenant.admin_token)
    return [data[f"p{n}"]["id"] for n in range(BATCH)]


def read_patients(patients: list[str]) -> str:
    """One query document reading each patient (one READ event each)."""
    fields = " ".join(f"p{n}: patient(id: {json.dumps(p)}) {{ id mrn }}"
                      for n, p in enumerate(patients))
    return f"query {{ {fields} }}"


async def test_a_request_reading_many_patients_appends_one_contiguous_verified_batch(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    patients = await create_patients(api, tenant)
    nurse = await tenant.user(Role.NURSE)
    response = await api.post(read_patients(patients), {}, nurse)
    assert [p["id"] for p in response.json()["data"].values()] == patients
    rows = await chain(database, tenant)
    batches = seqs_by_request(rows)
    read = batches[response.headers["x-request-id"]]
    assert read == list(range(read[0], read[0] + BATCH))
    # The facility, the patients, the nurse, the read.
    assert [len(seqs) for seqs in batches.values()] == [1, BATCH, 1, BATCH]
    assert_linked(rows)
    await assert_intact(database, tenant, len(rows))


async def test_concurrent_requests_of_one_tenant_append_their_batches_whole_and_in_turn(
    api: Api, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    document = read_patients(await create_patients(api, tenant))
    nurses = [await tenant.user(Role.NURSE) for _ in range(4)]
    before = len(await chain(database, tenant))
    responses = await asyncio.gather(*(api.post(document, {}, nurse)
                                       for nurse in nurses for _ in range(2)))
    assert {len(r.json()["data"]) for r in responses} == {BATCH}
    rows = await chain(database, tenant)
    batches = seqs_by_request(rows)
    for response in responses:
        seqs = batches[response.headers["x-request-id"]]
        assert seqs == list(range(seqs[0], seqs[0] + BATCH))
    assert len(rows) == before + 8 * BATCH
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
async def test_a_second_append_waits_for_the_first_and_links_after_all_of_it(
    database: DatabaseUnderTest, unaudited: TenantKit, earlier: int
) -> None:
    if earlier:
        await append(database, nurse_claims(unaudited), events_of(earlier), "earlier")
    first, second = events_of(120), events_of(80)
    at = datetime.now(UTC)
    one = await asyncpg.connect(database.api_url)
    two = await asyncpg.connect(database.api_url)
    try:
        started = []
        for connection, request_id in ((one, "first"), (two, "second")):
            started.append(await begin_with_claims(
                connection, nurse_claims(unaudited), request_id, 30_000))
        await record_audit_events(Session(one), first, at)
        pid = await two.fetchval("select pg_backend_pid()")
        waiting = asyncio.create_task(record_audit_events(Session(two), second, at))
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
    assert {r: seqs for r, seqs in seqs_by_request(rows).items() if r != "earlier"} == {
        "first": list(range(earlier + 1, earlier + 121)),
        "second": list(range(earlier + 121, earlier + 201))}
    assert_linked(rows)
    await assert_intact(database, unaudited, earlier + 200)


# -- old and new appends in one chain -------------------------------------------------------------

async def append_row_by_row(database: DatabaseUnderTest, claims: Claims,
                            events: list[AuditEvent], request_id: str) -> None:
    connection = await asyncpg.connect(database.admin_url)
    try:
        async with connection.transaction():
            await begin_with_claims(connection, claims, request_id, 30_000)
            await connection.execute("reset role")
            await connection.execute(
                "select set_config('wgtest.events', $1, true), "
                "set_config('wgtest.occurred_at', $2, true)",
                json.dumps([e.as_json() for e in events]), datetime.now(UTC).isoformat())
            await connection.execute(ROW_BY_ROW_APPEND)
    finally:
        await connection.close()


async def test_a_chain_begun_row_by_row_verifies_after_set_based_appends(
    database: DatabaseUnderTest, unaudited: TenantKit
) -> None:
    claims = nurse_claims(unaudited)
    await append_row_by_row(database, claims, events_of(30), "row-by-row-1")
    await append(database, claims, events_of(66), "set-based-1")
    await append_row_by_row(database, claims, events_of(5), "row-by-row-2")
    await append(database, claims, events_of(1), "set-based-2")
    rows = await chain(database, unaudited)
    assert {r: len(seqs) for r, seqs in seqs_by_request(rows).items()} == {
        "row-by-row-1": 30, "set-based-1": 66, "row-by-row-2": 5, "set-based-2": 1}
    assert_linked(rows)
    await assert_intact(database, unaudited, 102)
