"""Appending the request's PHI audit events (policies/audit.sql holds the rules)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from wardgraph.db.session import Session

RECORD_AUDIT_EVENTS = "select app.record_audit_events($1::jsonb, $2)"


@dataclass(frozen=True)
class AuditEvent:
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


async def record_audit_events(
    session: Session, events: list[AuditEvent], occurred_at: datetime
) -> None:
    """One statement for all of a request's events (deduplicated, in order)."""
    unique = list(dict.fromkeys(events))
    await session.execute(
        RECORD_AUDIT_EVENTS, json.dumps([e.as_json() for e in unique]), occurred_at
    )
