"""The statements of live NEWS2 alerts: each runs under the claims of the subscribers it
serves, so row-level security decides which escalations they hear of."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

ALERT_COLUMNS = """id, seq, patient_id, facility_id, ward_id, observation_id, news2_total,
       news2_risk::text as news2_risk, red_score, raised_at"""

# The notice names a tenant and an escalation; the policies, under the group's role and claims,
# decide whether its members see it at all. A ward filter is applied to the row afterwards, per
# subscriber: it narrows what a member asked for, not what the group may see.
FETCH_ALERT = f"""
select {ALERT_COLUMNS} from app.escalations where tenant_id = $1 and id = $2
"""

# The same for the notices that arrived together, in the order they were raised.
FETCH_ALERTS = f"""
select {ALERT_COLUMNS} from app.escalations where tenant_id = $1 and id = any($2::uuid[])
order by seq
"""

# What committed while the listener was away: rows whose inserting transaction the listener's
# last snapshot did not see (the hub skips those it delivered since), up to one cut that every
# group's read shares, taken once LISTEN was back: what commits after the cut is notified.
FETCH_ALERTS_BETWEEN_SNAPSHOTS = f"""
select {ALERT_COLUMNS} from app.escalations
where tenant_id = $1 and not pg_visible_in_snapshot(raised_xact, $2::text::pg_snapshot)
  and pg_visible_in_snapshot(raised_xact, $3::text::pg_snapshot)
order by seq
"""

# A subscriber resuming after its own reconnect: everything after the last alert it saw, if it
# may see that alert at all (an id it may not see resumes nothing: NOT_FOUND).
FETCH_ALERTS_AFTER = f"""
select {ALERT_COLUMNS} from app.escalations
where tenant_id = $1 and seq > (select seq from app.escalations where tenant_id = $1 and id = $2)
order by seq
limit $3
"""

FETCH_ALERT_VISIBLE = "select true from app.escalations where tenant_id = $1 and id = $2"

RECORD_ALERT_DISCLOSURES = """
select app.record_alert_disclosures($1, $2, $3::uuid[], $4::uuid[], $5::text[], $6)
"""

# Taken on the listening connection while it is up: what a reconnect replays from.
CURRENT_SNAPSHOT = "select pg_current_snapshot()::text"


async def fetch_alert(
    session: Session, tenant_id: UUID, escalation_id: UUID
) -> asyncpg.Record | None:
    return await session.fetchrow(FETCH_ALERT, tenant_id, escalation_id)


async def fetch_alerts(
    session: Session, tenant_id: UUID, escalation_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_ALERTS, tenant_id, escalation_ids)


async def fetch_alerts_between_snapshots(
    session: Session, tenant_id: UUID, since: str, until: str
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_ALERTS_BETWEEN_SNAPSHOTS, tenant_id, since, until)


async def fetch_alerts_after(
    session: Session, tenant_id: UUID, escalation_id: UUID, limit: int
) -> list[asyncpg.Record] | None:
    """The alerts after `escalation_id`, or None when that escalation is not visible."""
    if not await session.fetchval(FETCH_ALERT_VISIBLE, tenant_id, escalation_id):
        return None
    return await session.fetch(FETCH_ALERTS_AFTER, tenant_id, escalation_id, limit)


async def record_alert_disclosures(
    session: Session, row: asyncpg.Record, user_ids: list[UUID | None],
    partner_token_ids: list[UUID | None], request_ids: list[str], occurred_at: datetime,
) -> None:
    """One PHI disclosure event per person, in one statement."""
    await session.execute(RECORD_ALERT_DISCLOSURES, row["id"], row["patient_id"], user_ids,
                          partner_token_ids, request_ids, occurred_at)


async def current_snapshot(connection: asyncpg.Connection) -> str:
    return str(await connection.fetchval(CURRENT_SNAPSHOT))
