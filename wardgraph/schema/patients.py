"""Patients."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

import asyncpg
import strawberry
from strawberry.types.lazy_type import LazyType

from wardgraph import ids
from wardgraph.context import RequestContext
from wardgraph.resolvers import admissions, observations, organisation
from wardgraph.resolvers import patients as resolve
from wardgraph.schema.enums import Spo2Scale
from wardgraph.schema.lazy import resolved
from wardgraph.schema.organisation import Facility, User
from wardgraph.schema.relay import Connection, Node, connection

if TYPE_CHECKING:
    from wardgraph.schema.admissions import Admission
    from wardgraph.schema.observations import Observation

Info = strawberry.Info[RequestContext, None]

# Admission and Observation refer back to Patient: they are built through strawberry's lazy
# references, not imported.
_ADMISSION: LazyType[str, str] = LazyType("Admission", "wardgraph.schema.admissions")
_OBSERVATION: LazyType[str, str] = LazyType("Observation", "wardgraph.schema.observations")


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
        return Facility.from_row(await organisation.facility_of(info.context, self.facility_id))

    @strawberry.field(description="NEWS2 SpO2 scale in force (clinical roles only; others get "
                      "FORBIDDEN from the database's column grants).")
    async def spo2_scale(self, info: Info) -> Spo2Scale | None:
        scale = await resolve.patient_spo2_scale(info.context, self.db_id)
        return Spo2Scale(scale.value) if scale is not None else None

    @strawberry.field(description="The patient's admission now, if admitted (partners need "
                      "the admissions:read scope).")
    async def current_admission(
        self, info: Info
    ) -> Annotated[Admission, strawberry.lazy("wardgraph.schema.admissions")] | None:
        row = await admissions.patient_current_admission(info.context, self.db_id)
        return resolved(_ADMISSION).from_row(row) if row is not None else None

    @strawberry.field(description="Every admission of the patient the caller may see, newest "
                      "first (a list: a patient's admissions are few).")
    async def admissions(
        self, info: Info
    ) -> list[Annotated[Admission, strawberry.lazy("wardgraph.schema.admissions")]]:
        build = resolved(_ADMISSION).from_row
        return [build(r) for r in await admissions.patient_admissions(info.context, self.db_id)]

    @strawberry.field(description="When the SpO2 scale was last set; null if never (clinical "
                      "roles only, like spo2Scale).")
    async def spo2_scale_set_at(self, info: Info) -> datetime | None:
        return await observations.spo2_scale_set_at(info.context, self.db_id)

    @strawberry.field(description="The clinician who last set the SpO2 scale; null if never "
                      "(clinical staff only; partners get FORBIDDEN).")
    async def spo2_scale_set_by(self, info: Info) -> User | None:
        row = await observations.spo2_scale_set_by(info.context, self.db_id)
        return User.from_row(row) if row is not None else None

    @strawberry.field(description="The patient's observations, newest first (ADMIN, CLINICIAN, "
                      "NURSE; partners need observations:read).")
    async def observations(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Observation, strawberry.lazy("wardgraph.schema.observations")]]:
        page = await observations.patient_observations(info.context, self.db_id, first, after)
        return connection(page, resolved(_OBSERVATION).of)

    @strawberry.field(description="The patient's most recent observation, if any: what a ward "
                      "dashboard shows (one statement for every patient listed).")
    async def latest_observation(
        self, info: Info
    ) -> Annotated[Observation, strawberry.lazy("wardgraph.schema.observations")] | None:
        found = await observations.latest_observation(info.context, self.db_id)
        return resolved(_OBSERVATION).of(found) if found is not None else None
