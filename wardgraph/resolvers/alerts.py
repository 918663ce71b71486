"""Live NEWS2 alerts: who may subscribe, and the stream they receive."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import asyncpg
import strawberry

from wardgraph.auth.claims import Role
from wardgraph.context import RequestContext
from wardgraph.schema import ids
from wardgraph.schema.alerts import News2Alert
from wardgraph.server.live import alert_rows, live_context

# Who reads vital signs reads their alerts; partners need observations:read. Row-level security
# still decides, per alert, which facilities (and tenant) a subscriber hears of.
SUBSCRIBERS = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.PARTNER)


async def news2_alerts(context: RequestContext,
                       ward_id: strawberry.ID | None) -> AsyncGenerator[News2Alert, None]:
    """Checked when subscribing (FORBIDDEN, NOT_FOUND, SERVICE_UNAVAILABLE arrive as the
    subscription's error), then streamed."""
    claims = context.require(*SUBSCRIBERS, scope="observations:read")
    live = live_context(context)
    ward = ids.decode(ward_id, "Ward") if ward_id is not None else None
    assert live.hub is not None
    await live.hub.ready()
    return _alerts(alert_rows(live, claims, ward))


async def _alerts(rows: AsyncGenerator[asyncpg.Record, None]) -> AsyncGenerator[News2Alert, None]:
    # aclosing: when the client completes the subscription, the row stream's cleanup
    # (unsubscribing from the hub) runs now, not whenever the generator is collected.
    async with aclosing(rows):
        async for row in rows:
            yield News2Alert.from_row(row)
