"""The upgrade to one audit event per request migrates the events already stored: the rows one
request wrote become one event (the first row's id, its objects in order, its operations and
patients), each tenant's chain is hashed again and verifies; the downgrade turns each event back
into one row per object, in a chain the earlier release verifies."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime

import asyncpg

from tests.factories import admin_fetch
from wardgraph.migrations import runner
from wardgraph.ops.audit_verify import verify

BEFORE = "0013_escalation_order"
TENANT = uuid.UUID("6a4b0000-0000-4000-8000-000000000001")
NURSE = uuid.UUID("6a4b0000-0000-4000-8000-000000000002")
ONE, TWO = (uuid.UUID(f"6a4b0000-0000-4000-8000-00000000001{n}") for n in (1, 2))
AT = datetime(2025, 3, 9, 23, 59, 59, 999_999, tzinfo=UTC)

# (request, operation, object type, object id, patient): two requests, as the earlier release
# stored them, one row per object.
ROWS = [
    ("req-a", "READ", "Patient", TWO, TWO),
    ("req-a", "READ", "Observation", uuid.UUID(int=7), TWO),
    ("req-a", "READ", "Patient", ONE, ONE),
    ("req-b", "CREATE", "Observation", uuid.UUID(int=8), ONE),
    ("req-b", "READ", "Facility", uuid.UUID(int=9), None),
]

OLD_EVENT = """
insert into app.audit_events (tenant_id, seq, id, occurred_at, request_id, actor_type, actor_id,
    actor_role, operation, object_type, object_id, patient_id, prev_hash, hash)
values ($1, $2, $3, $4, $5, 'USER', $6, 'NURSE', $7, $8, $9, $10, $11, $12)
"""

OLD_CHAIN = """
select seq, id, prev_hash, hash, extract(epoch from occurred_at)::text as epoch, request_id,
       actor_type, actor_id, actor_role, operation, object_type, object_id, patient_id
from app.audit_events where tenant_id = $1 order by seq
"""


def old_hash(previous: bytes, seq: int, epoch: str, request: str, operation: str,
             object_type: str, object_id: uuid.UUID | None, patient: uuid.UUID | None) -> bytes:
    """The earlier release's app.audit_event_hash()."""
    fields = [str(TENANT), str(seq), epoch, request, "USER", str(NURSE), "NURSE", operation,
              object_type, str(object_id or ""), str(patient or "")]
    return hashlib.sha256(previous + "|".join(fields).encode()).digest()


async def store_old_trail(url: str) -> list[uuid.UUID]:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("insert into platform.tenants (tenant_id, slug, name) "
                                 "values ($1, 'migrated', 'Migrated')", TENANT)
        epoch = await connection.fetchval("select extract(epoch from $1::timestamptz)::text", AT)
        previous, event_ids = bytes(32), []
        for seq, (request, operation, object_type, object_id, patient) in enumerate(ROWS, 1):
            linked = old_hash(previous, seq, epoch, request, operation, object_type, object_id,
                              patient)
            event_ids.append(uuid.uuid4())
            await connection.execute(OLD_EVENT, TENANT, seq, event_ids[-1], AT, request, NURSE,
                                     operation, object_type, object_id, patient, previous,
                                     linked)
            previous = linked
        await connection.execute("insert into app.audit_chain_heads (tenant_id, seq, hash) "
                                 "values ($1, $2, $3)", TENANT, len(ROWS), previous)
        return event_ids
    finally:
        await connection.close()


async def test_upgrade_makes_one_event_per_request_whose_chain_verifies(
    scratch_url: str
) -> None:
    await asyncio.to_thread(runner.upgrade, scratch_url, BEFORE)
    old_ids = await store_old_trail(scratch_url)
    await asyncio.to_thread(runner.upgrade, scratch_url)
    rows = await admin_fetch(scratch_url, """
        select seq, id, request_id, operations, patient_ids, objects::text as objects
        from app.audit_events where tenant_id = $1 order by seq""", TENANT)
    assert [(r["seq"], r["id"], r["request_id"], r["operations"], r["patient_ids"])
            for r in rows] == [
        (1, old_ids[0], "req-a", ["READ"], sorted([ONE, TWO])),
        (2, old_ids[3], "req-b", ["CREATE", "READ"], [ONE])]
    assert {r["request_id"]: [(o["operation"], o["objectType"], o["objectId"], o["patientId"])
                              for o in json.loads(r["objects"])] for r in rows} == {
        request: [(op, kind, str(oid), patient and str(patient))
                  for req, op, kind, oid, patient in ROWS if req == request]
        for request in ("req-a", "req-b")}
    [report] = await verify(scratch_url, "migrated")
    assert (report.intact, report.events, report.head_seq) == (True, 2, 2), report.line()


async def test_downgrade_restores_one_row_per_object_in_a_chain_of_the_earlier_release(
    scratch_url: str
) -> None:
    await asyncio.to_thread(runner.upgrade, scratch_url, BEFORE)
    old_ids = await store_old_trail(scratch_url)
    await asyncio.to_thread(runner.upgrade, scratch_url)
    await asyncio.to_thread(runner.downgrade, scratch_url, BEFORE)
    rows = await admin_fetch(scratch_url, OLD_CHAIN, TENANT)
    assert [(r["request_id"], r["operation"], r["object_type"], r["object_id"],
             r["patient_id"]) for r in rows] == ROWS
    assert [rows[0]["id"], rows[3]["id"]] == [old_ids[0], old_ids[3]]
    previous = bytes(32)
    for row in rows:
        assert row["prev_hash"] == previous
        previous = old_hash(previous, row["seq"], row["epoch"], row["request_id"],
                            row["operation"], row["object_type"], row["object_id"],
                            row["patient_id"])
        assert row["hash"] == previous
    [head] = await admin_fetch(scratch_url, "select seq, hash from app.audit_chain_heads "
                               "where tenant_id = $1", TENANT)
    assert (head["seq"], head["hash"]) == (len(ROWS), previous)
