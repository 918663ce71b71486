"""The PHI audit trail: appending a request's event (one per request, holding every object it
touched), and reading events back for auditors (policies/audit.sql holds the rules;
wardgraph/ops/audit_verify.py checks the chain)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg
import orjson

from wardgraph.db.pool import count_statements
from wardgraph.db.session import SAFE_LITERAL, Session

RECORD_AUDIT_EVENTS = "select app.record_audit_events($1::jsonb, $2)"


@dataclass(frozen=True)
class AuditEvent:
    """One object a request read or changed: an entry of its audit event's objects."""

    operation: str  # READ, CREATE, UPDATE, DELETE
    object_type: str
    object_id: UUID | None
    patient_id: UUID | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "operation": self.operation,
            "objectType": self.object_type,
            "objectId": str(self.object_id) if self.object_id else None,
            "patientId": str(self.patient_id) if self.patient_id else None,
        }


# The events' JSON as a literal must match this: a literal's quote or backslash cannot occur.
SAFE_EVENTS = re.compile(r'[A-Za-z0-9_:.,{}\[\]" \-]*\Z')


async def record_audit_events(
    session: Session, events: list[AuditEvent], occurred_at: datetime
) -> None:
    """One statement, one row, for all of a request's objects (deduplicated, in order)."""
    await session.execute(RECORD_AUDIT_EVENTS, events_json(events), occurred_at)


async def commit_with_audit_events(
    session: Session, events: list[AuditEvent], occurred_at: datetime
) -> None:
    """The events, then COMMIT, in one round trip when the values allow: the events are uuids
    and names of our own, and the time is an ISO timestamp, so their literals can be written
    into the script; otherwise (never, in practice) two round trips with bound parameters.
    If the append fails, the script stops there and the transaction stays open, aborted."""
    payload = events_json(events)
    moment = occurred_at.isoformat()
    if SAFE_EVENTS.match(payload) and SAFE_LITERAL.match(moment):
        await session.execute(f"select app.record_audit_events('{payload}'::jsonb, "
                              f"'{moment}'::timestamptz); commit")
        count_statements(session.connection, 1)  # the script holds two statements
    else:
        await record_audit_events(session, events, occurred_at)
        await session.execute("commit")


def events_json(events: list[AuditEvent]) -> str:
    # orjson: a dashboard's 66 objects took the standard library's encoder 2% of the request.
    return orjson.dumps([e.as_json() for e in dict.fromkeys(events)]).decode()


# -- reading the trail (AUDITOR) ---------------------------------------------------------------

EVENT_COLUMNS = (
    "tenant_id, seq, id, occurred_at, request_id, actor_type, actor_id, actor_role, operations, "
    "patient_ids, objects::text as objects"
)

# Newest first by (occurred_at, seq); every filter is optional. `from` is inclusive, `to`
# exclusive, so consecutive windows neither miss nor repeat an event. A patient's events are
# found by app.audit_event_seqs_touching(), through the GIN index on patient_ids (policies/
# audit.sql says why through a function), then read here under the auditor's own policies.
FETCH_AUDIT_EVENTS_PAGE = f"""
select {EVENT_COLUMNS} from app.audit_events
where tenant_id = $1
  and ($2::uuid is null or seq = any(app.audit_event_seqs_touching($2)))
  and ($3::uuid is null or (actor_id = $3 and actor_type = $4))
  and ($5::timestamptz is null or occurred_at >= $5)
  and ($6::timestamptz is null or occurred_at < $6)
  and ($7::timestamptz is null or (occurred_at, seq) < ($7, $8::bigint))
order by occurred_at desc, seq desc
limit $9
"""

FETCH_AUDIT_EVENTS_BY_ID = f"""
select {EVENT_COLUMNS} from app.audit_events where tenant_id = $1 and id = any($2::uuid[])
"""


@dataclass(frozen=True)
class EventFilter:
    patient_id: UUID | None = None
    actor_id: UUID | None = None
    actor_type: str | None = None  # USER or PARTNER, with actor_id
    occurred_from: datetime | None = None
    occurred_to: datetime | None = None


async def fetch_audit_events_page(
    session: Session, tenant_id: UUID, where: EventFilter,
    after: tuple[datetime, int] | None, limit: int,
) -> list[asyncpg.Record]:
    at, seq = after if after else (None, None)
    return await session.fetch(
        FETCH_AUDIT_EVENTS_PAGE, tenant_id, where.patient_id, where.actor_id, where.actor_type,
        where.occurred_from, where.occurred_to, at, seq, limit,
    )


async def fetch_audit_events_by_id(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_AUDIT_EVENTS_BY_ID, tenant_id, ids)


# -- verifying the chain (the operator, as a role that bypasses row security) ------------------

CAN_READ_EVERY_TENANT = """
select rolsuper or rolbypassrls from pg_catalog.pg_roles where rolname = current_user
"""

FETCH_TENANTS = """
select tenant_id, slug from platform.tenants where ($1::text is null or slug = $1) order by slug
"""

# The fields app.audit_event_hash() serialises, as it serialises them: the epoch, the arrays
# and the objects are written as text by Postgres, so that each is the function's, character
# for character (these are Postgres' own output functions, not anything a role can replace).
FETCH_CHAIN = """
select seq, prev_hash, hash, extract(epoch from occurred_at)::text as epoch, request_id,
       actor_type, actor_id, actor_role, operations::text as operations,
       patient_ids::text as patient_ids, objects::text as objects
from app.audit_events where tenant_id = $1 order by seq
"""

CHAIN_PREFETCH = 1000

FETCH_CHAIN_HEAD = "select seq, hash from app.audit_chain_heads where tenant_id = $1"


async def can_read_every_tenant(connection: asyncpg.Connection) -> bool:
    return bool(await connection.fetchval(CAN_READ_EVERY_TENANT))


async def fetch_tenants(connection: asyncpg.Connection, slug: str | None) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await connection.fetch(FETCH_TENANTS, slug)
    return rows


async def fetch_chain_head(
    connection: asyncpg.Connection, tenant_id: UUID
) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await connection.fetchrow(FETCH_CHAIN_HEAD, tenant_id)
    return row


async def fetch_chain(
    connection: asyncpg.Connection, tenant_id: UUID
) -> AsyncIterator[asyncpg.Record]:
    """A tenant's events in chain order, streamed (inside a transaction): a trail of millions
    of events is checked in constant memory."""
    async for row in connection.cursor(FETCH_CHAIN, tenant_id, prefetch=CHAIN_PREFETCH):
        yield row
