"""Live NEWS2 alerts: who may subscribe, and the stream they receive."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import asyncpg

from wardgraph import ids
from wardgraph.auth.claims import Role
from wardgraph.context import RequestContext

# Who reads vital signs reads their alerts; partners need observations:read. Row-level security
# still decides, per alert, which facilities (and tenant) a subscriber hears of.
SUBSCRIBERS = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.PARTNER)


async def news2_alerts(context: RequestContext, ward_id: str | None,
                       after: str | None = None) -> AsyncGenerator[asyncpg.Record, None]:
    """Checked when subscribing (FORBIDDEN, NOT_FOUND, SERVICE_UNAVAILABLE arrive as the
    subscription's error), then streamed: first what was raised after `after` (the last alert
    the client saw before it reconnected), then each new alert."""
    claims = context.require(*SUBSCRIBERS, scope="observations:read")
    ward = ids.decode(ward_id, "Ward") if ward_id is not None else None
    last_seen = ids.decode(after, "Escalation") if after is not None else None
    return await context.alert_stream(claims, ward, last_seen)
