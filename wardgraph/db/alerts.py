"""The statement a live-alert subscriber runs, as itself, for each escalation it hears of."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

# The notice names a tenant and an escalation; row-level security, under the subscriber's own
# role and claims, decides whether the subscriber sees it at all.
FETCH_ALERT = """
select id, patient_id, ward_id, observation_id, news2_total, news2_risk::text as news2_risk,
       red_score, raised_at
from app.escalations
where tenant_id = $1 and id = $2 and ($3::uuid is null or ward_id = $3)
"""


async def fetch_alert(
    session: Session, tenant_id: UUID, escalation_id: UUID, ward_id: UUID | None
) -> asyncpg.Record | None:
    return await session.fetchrow(FETCH_ALERT, tenant_id, escalation_id, ward_id)
