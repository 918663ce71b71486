"""Reading the PHI audit trail in tests: its events expanded into one row per object touched,
with the columns an event's objects hold, for assertions about what a request recorded."""

from __future__ import annotations

# Every object of every event, in request order: `from {AUDITED_OBJECTS} where ...`.
AUDITED_OBJECTS = """(
    select e.tenant_id, e.seq, e.id, e.occurred_at, e.request_id, e.actor_type, e.actor_id,
           e.actor_role, o.operation, o.object_type, o.object_id, o.patient_id, o.position
    from app.audit_events e
    cross join lateral rows from (jsonb_to_recordset(e.objects)
            as ("operation" text, "objectType" text, "objectId" uuid, "patientId" uuid))
        with ordinality as o(operation, object_type, object_id, patient_id, position)
) as audited"""
