"""The PHI audit trail as an auditor reads it."""

from __future__ import annotations

import enum
from datetime import datetime

import asyncpg
import orjson
import strawberry

from wardgraph import ids
from wardgraph.schema.relay import Node

# The global id type of an actor, by actor_type.
ACTOR_TYPES = {"USER": "User", "PARTNER": "PartnerToken"}


@strawberry.enum(description="Who acted.")
class AuditActorType(enum.Enum):
    USER = strawberry.enum_value("USER", description="A signed-in member of staff.")
    PARTNER = strawberry.enum_value("PARTNER", description="A partner token.")
    SYSTEM = strawberry.enum_value("SYSTEM", description="The platform itself (no caller).")


@strawberry.enum(description="What was done to the object.")
class AuditOperation(enum.Enum):
    READ = strawberry.enum_value("READ", description="It was handed to a client.")
    CREATE = strawberry.enum_value("CREATE", description="It was created.")
    UPDATE = strawberry.enum_value("UPDATE", description="It was changed.")
    DELETE = strawberry.enum_value("DELETE", description="It was deleted.")


def _global_id(type_name: str | None, db_id: object) -> strawberry.ID | None:
    """The global id of a stored id (a uuid, or its text inside an event's objects)."""
    if type_name is None or db_id is None:
        return None
    return strawberry.ID(ids.encode(type_name, db_id))  # type: ignore[arg-type]


@strawberry.type(description="One object a request read or changed, as its audit event "
                 "records it.")
class AuditedObject:
    operation: AuditOperation = strawberry.field(description="READ, CREATE, UPDATE or DELETE.")
    object_type: str = strawberry.field(description="The type of the object, e.g. Patient, "
                                        "Observation, Admission.")
    object_id: strawberry.ID | None = strawberry.field(
        description="The object's global id (of type objectType).")
    patient_id: strawberry.ID | None = strawberry.field(
        description="The global id of the patient whose data it is, if any.")

    @classmethod
    def from_json(cls, item: dict[str, str | None]) -> AuditedObject:
        object_type = item["objectType"] or ""
        return cls(operation=AuditOperation(item["operation"]), object_type=object_type,
                   object_id=_global_id(object_type, item["objectId"]),
                   patient_id=_global_id("Patient", item["patientId"]))


@strawberry.type(description="One entry of the PHI audit trail: one request that read or "
                 "changed PHI, who made it, when, and every object it touched. Append-only and "
                 "hash-chained per tenant (`wardgraph audit verify` proves nothing was altered "
                 "or removed).")
class AuditEvent(Node):
    occurred_at: datetime = strawberry.field(description="When: the request's clock.")
    request_id: str = strawberry.field(description="The request, as its X-Request-Id response "
                                       "header and log lines name it.")
    actor_type: AuditActorType = strawberry.field(description="A user or a partner token.")
    actor_id: strawberry.ID | None = strawberry.field(
        description="The user's or partner token's global id; pass it as `actorId` to "
        "auditEvents.")
    actor_role: str = strawberry.field(description="The role the actor acted as: ADMIN, "
                                       "CLINICIAN, NURSE, BILLING, AUDITOR or PARTNER.")
    operations: list[AuditOperation] = strawberry.field(
        description="What the request did, each kind once: READ, CREATE, UPDATE, DELETE.")
    patient_ids: list[strawberry.ID] = strawberry.field(
        description="The global ids of the patients whose data the request read or changed, "
        "each once; pass one as `patientId` to auditEvents.")
    objects: list[AuditedObject] = strawberry.field(
        description="Every object the request read or changed, in the order it touched them.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> AuditEvent:
        return cls(
            id=strawberry.ID(ids.encode("AuditEvent", row["id"])),
            occurred_at=row["occurred_at"], request_id=row["request_id"],
            actor_type=AuditActorType(row["actor_type"]),
            actor_id=_global_id(ACTOR_TYPES.get(row["actor_type"]), row["actor_id"]),
            actor_role=row["actor_role"],
            operations=[AuditOperation(o) for o in row["operations"]],
            patient_ids=[strawberry.ID(ids.encode("Patient", p)) for p in row["patient_ids"]],
            objects=[AuditedObject.from_json(o) for o in orjson.loads(row["objects"])],
        )
