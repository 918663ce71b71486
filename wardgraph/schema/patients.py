"""Patients."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg
import strawberry

from wardgraph.context import RequestContext
from wardgraph.resolvers import patients as resolve
from wardgraph.schema import ids
from wardgraph.schema.enums import Spo2Scale
from wardgraph.schema.organisation import Facility
from wardgraph.schema.relay import Node

Info = strawberry.Info[RequestContext, None]


@strawberry.type(description="A patient of the hospital. Every read is recorded in the audit "
                 "trail.")
class Patient(Node):
    db_id: strawberry.Private[UUID]
    facility_id: strawberry.Private[UUID]
    mrn: str = strawberry.field(description="Medical record number, unique in the tenant.")
    given_name: str = strawberry.field(description="Given name.")
    family_name: str = strawberry.field(description="Family name.")
    birth_date: date = strawberry.field(description="Date of birth (a calendar date).")
    created_at: datetime = strawberry.field(description="When the record was created.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Patient:
        return cls(id=strawberry.ID(ids.encode("Patient", row["id"])), db_id=row["id"],
                   facility_id=row["facility_id"], mrn=row["mrn"], given_name=row["given_name"],
                   family_name=row["family_name"], birth_date=row["birth_date"],
                   created_at=row["created_at"])

    @strawberry.field(description="The facility where the patient was registered.")
    async def facility(self, info: Info) -> Facility:
        from wardgraph.resolvers.organisation import facility_of

        return await facility_of(info.context, self.facility_id)

    @strawberry.field(description="NEWS2 SpO2 scale in force (clinical roles only; others get "
                      "FORBIDDEN from the database's column grants).")
    async def spo2_scale(self, info: Info) -> Spo2Scale | None:
        return await resolve.patient_spo2_scale(info.context, self.db_id)
