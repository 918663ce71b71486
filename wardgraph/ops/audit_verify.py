"""`wardgraph audit verify`: proves that each tenant's audit trail is whole and unaltered.

Each event (one per request) stores hash = sha256(prev_hash || its fields), prev_hash being the
previous event's hash (32 zero bytes for the first), and app.audit_chain_heads keeps the last
sequence number and hash of each tenant. The verifier recomputes every hash here, in Python,
rather than calling app.audit_event_hash(): whoever could rewrite a row could also replace that
function. It reports the first broken link of each tenant:

- a sequence number missing: an event was deleted;
- a prev_hash that is not the previous event's hash: the event before it was replaced;
- a hash that does not match the event's fields: the event was altered;
- a chain head that is not the last event: events were deleted from the end.

A DBA able to rewrite every later event and the head as well defeats any chain kept in the same
database; the printed head hash is what to record elsewhere (a ticket, a WORM bucket) so such a
rewrite shows on the next run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from uuid import UUID

import asyncpg

from wardgraph.db import audit as db

GENESIS = bytes(32)


class VerifyError(RuntimeError):
    """The verification cannot run; the message says why."""


@dataclass(frozen=True)
class ChainReport:
    slug: str
    events: int
    head_seq: int
    head_hash: bytes
    broken_at: int | None = None  # the sequence number of the first broken link
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.reason is None

    def line(self) -> str:
        if self.intact:
            return (f"{self.slug}: intact, {self.events} events, head {self.head_seq} "
                    f"sha256:{self.head_hash.hex()}")
        return f"{self.slug}: BROKEN at event {self.broken_at}: {self.reason}"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def event_hash(prev_hash: bytes, tenant_id: UUID, row: asyncpg.Record) -> bytes:
    """app.audit_event_hash() of a stored event, recomputed: its fields joined with '|'."""
    fields = [str(tenant_id), str(row["seq"]), row["epoch"], row["request_id"],
              row["actor_type"], _text(row["actor_id"]), row["actor_role"], row["operations"],
              row["patient_ids"], row["objects"]]
    return hashlib.sha256(prev_hash + "|".join(fields).encode("utf-8")).digest()


def broken_link(tenant_id: UUID, expected_seq: int, previous_hash: bytes,
                row: asyncpg.Record) -> str | None:
    """Why this event breaks the chain, or None when it links on correctly."""
    if row["seq"] != expected_seq:
        missing = (f"event {expected_seq} is" if row["seq"] == expected_seq + 1
                   else f"events {expected_seq} to {row['seq'] - 1} are")
        return f"{missing} missing (deleted)"
    if row["prev_hash"] != previous_hash:
        return (f"its prev_hash is not the hash of event {expected_seq - 1} (an earlier event "
                "was replaced)")
    if event_hash(row["prev_hash"], tenant_id, row) != row["hash"]:
        return "its fields do not match its hash (the event was altered)"
    return None


async def verify_tenant(connection: asyncpg.Connection, tenant_id: UUID,
                        slug: str) -> ChainReport:
    expected_seq, previous_hash = 1, GENESIS
    async for row in db.fetch_chain(connection, tenant_id):
        reason = broken_link(tenant_id, expected_seq, previous_hash, row)
        if reason is not None:
            return ChainReport(slug, expected_seq - 1, expected_seq - 1, previous_hash,
                               broken_at=expected_seq, reason=reason)
        expected_seq, previous_hash = expected_seq + 1, row["hash"]
    events = expected_seq - 1
    head = await db.fetch_chain_head(connection, tenant_id)
    head_seq, head_hash = (head["seq"], head["hash"]) if head else (0, GENESIS)
    report = ChainReport(slug, events, head_seq, head_hash)
    if head_seq > events:
        missing = (f"event {head_seq} is" if head_seq == events + 1
                   else f"events {events + 1} to {head_seq} are")
        return ChainReport(slug, events, head_seq, head_hash, broken_at=events + 1,
                           reason=f"{missing} missing from the end (deleted); the chain head is "
                           f"at event {head_seq}")
    if head_seq < events or head_hash != previous_hash:
        return ChainReport(slug, events, head_seq, head_hash, broken_at=events,
                           reason="the chain head does not hold the last event's hash (the "
                           "head was altered)")
    return report


async def verify(admin_url: str, slug: str | None = None) -> list[ChainReport]:
    """One report per tenant (or for the one tenant named), read in one snapshot."""
    connection = await asyncpg.connect(admin_url)
    try:
        # Every table forces row security: a role that does not bypass it would read no event
        # at all and find every chain "intact".
        if not await db.can_read_every_tenant(connection):
            raise VerifyError("the admin role does not bypass row security, so it cannot read "
                              "the audit trail: run as a superuser or a role with BYPASSRLS")
        async with connection.transaction(isolation="repeatable_read", readonly=True):
            tenants = await db.fetch_tenants(connection, slug)
            if slug is not None and not tenants:
                raise VerifyError(f"no tenant {slug!r}")
            return [await verify_tenant(connection, t["tenant_id"], t["slug"]) for t in tenants]
    finally:
        await connection.close()
