"""Reading the PHI audit trail: AUDITOR only, and a read of the trail is not itself audited
(it hands out no PHI: ids, times and roles)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from wardgraph import errors, ids
from wardgraph.auth.claims import Role
from wardgraph.context import RequestContext
from wardgraph.db import audit as db
from wardgraph.paging import Page, page_size

# An id given as a filter that names nothing of the wanted types filters everything out: the
# answer is the same empty page as for a random id, not an error that tells them apart.
ACTOR_ID_TYPES = {"User": "USER", "PartnerToken": "PARTNER"}


def _filter_id(global_id: str | None, type_name: str) -> UUID | None:
    parsed = ids.parse(global_id) if global_id is not None else None
    return parsed[1] if parsed is not None and parsed[0] == type_name else None


def _moment(value: datetime | None, field: str) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise errors.invalid(field, "Give the time with its UTC offset, e.g. "
                             "2025-01-31T09:30:00+06:00")
    return value


def _position(key: list[object] | None) -> tuple[datetime, int] | None:
    if key is None:
        return None
    try:
        return datetime.fromisoformat(str(key[0])), int(str(key[1]))
    except ValueError as error:
        raise errors.invalid("after", "Not a cursor from this connection") from error


def _event_filter(patient_id: str | None, actor_id: str | None, occurred_from: datetime | None,
                  occurred_to: datetime | None) -> db.EventFilter | None:
    """The filter, or None when an id names nothing of its type (so nothing can match)."""
    occurred_from, occurred_to = _moment(occurred_from, "from"), _moment(occurred_to, "to")
    patient = _filter_id(patient_id, "Patient")
    actor_type = ids.parse(actor_id) if actor_id is not None else None
    actor = ACTOR_ID_TYPES.get(actor_type[0]) if actor_type is not None else None
    if (patient_id is not None and patient is None) or (actor_id is not None and actor is None):
        return None
    return db.EventFilter(
        patient_id=patient, actor_id=actor_type[1] if actor_type else None, actor_type=actor,
        occurred_from=occurred_from, occurred_to=occurred_to)


async def audit_events(
    context: RequestContext, first: int | None, after: str | None, patient_id: str | None,
    actor_id: str | None, occurred_from: datetime | None, occurred_to: datetime | None,
) -> Page[asyncpg.Record]:
    """Newest first; every filter optional."""
    claims = context.require(Role.AUDITOR)
    limit = page_size(first, 20, context.settings.limits.max_page_size)
    cursors = context.cursors("auditEvents")
    position = _position(cursors.decode(after, 2))
    where = _event_filter(patient_id, actor_id, occurred_from, occurred_to)
    if where is None:
        return Page([], False, cursors)
    rows = await db.fetch_audit_events_page(
        await context.db(), claims.tenant_id, where, position, limit + 1)
    return Page.of([([r["occurred_at"].isoformat(), r["seq"]], r) for r in rows], limit, cursors)


async def audit_event_of(context: RequestContext, event_id: UUID) -> asyncpg.Record:
    claims = context.require(Role.AUDITOR)
    rows = await db.fetch_audit_events_by_id(await context.db(), claims.tenant_id, [event_id])
    if not rows:
        raise errors.not_found()
    return rows[0]
