"""The root types. Each field is one line that hands over to a resolver."""

from __future__ import annotations

import strawberry

from wardgraph.claims import Role as ClaimRole
from wardgraph.context import RequestContext
from wardgraph.resolvers import nodes, organisation, patients, viewer
from wardgraph.schema.inputs import (
    CreateBedInput,
    CreateFacilityInput,
    CreatePatientInput,
    CreateUserInput,
    CreateWardInput,
    LoginInput,
)
from wardgraph.schema.organisation import Bed, Facility, User, Ward
from wardgraph.schema.patients import Patient
from wardgraph.schema.relay import Connection, Node
from wardgraph.schema.viewer import LoginPayload, Viewer

Info = strawberry.Info[RequestContext, None]


@strawberry.type(description="Reads.")
class Query:
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await nodes.node(info.context, id)  # type: ignore[no-any-return]

    @strawberry.field(description="The caller: user or partner, tenant, role, facilities, scopes.")
    def viewer(self, info: Info) -> Viewer:
        return viewer.viewer(info.context)

    @strawberry.field(description="Facilities the caller may see, by code.")
    async def facilities(self, info: Info, first: int | None = None,
                         after: str | None = None) -> Connection[Facility]:
        return await organisation.facilities(info.context, first, after)

    @strawberry.field(description="One facility.")
    async def facility(self, info: Info, id: strawberry.ID) -> Facility | None:
        return await organisation.facility(info.context, id)

    @strawberry.field(description="One ward, with its beds.")
    async def ward(self, info: Info, id: strawberry.ID) -> Ward | None:
        return await organisation.ward(info.context, id)

    @strawberry.field(description="Patients the caller may see, by family name; `search` matches "
                      "an MRN exactly or a name by prefix.")
    async def patients(self, info: Info, first: int | None = None, after: str | None = None,
                       search: str | None = None) -> Connection[Patient]:
        return await patients.patients(info.context, first, after, search)

    @strawberry.field(description="One patient.")
    async def patient(self, info: Info, id: strawberry.ID) -> Patient | None:
        return await patients.patient(info.context, id)


@strawberry.type(description="Writes. Each runs in one transaction: all of it or none of it.")
class Mutation:
    @strawberry.mutation(description="Exchange credentials for a short-lived token.")
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        return await viewer.login(info.context, input.tenant, input.email, input.password)

    @strawberry.mutation(description="ADMIN: add a facility.")
    async def create_facility(self, info: Info, input: CreateFacilityInput) -> Facility:
        return await organisation.create_facility(
            info.context, input.code, input.name, input.timezone, input.currency)

    @strawberry.mutation(description="ADMIN: add a ward to a facility.")
    async def create_ward(self, info: Info, input: CreateWardInput) -> Ward:
        return await organisation.create_ward(
            info.context, input.facility_id, input.name, input.daily_rate)

    @strawberry.mutation(description="ADMIN: add a bed to a ward.")
    async def create_bed(self, info: Info, input: CreateBedInput) -> Bed:
        return await organisation.create_bed(info.context, input.ward_id, input.label)

    @strawberry.mutation(description="ADMIN: add a member of staff.")
    async def create_user(self, info: Info, input: CreateUserInput) -> User:
        return await organisation.create_user(
            info.context, input.email, input.display_name, ClaimRole(input.role.value),
            list(input.facility_ids), input.password)

    @strawberry.mutation(description="Register a patient (ADMIN, CLINICIAN, NURSE).")
    async def create_patient(self, info: Info, input: CreatePatientInput) -> Patient:
        return await patients.create_patient(
            info.context, input.mrn, input.given_name, input.family_name, input.birth_date,
            input.facility_id, info.context.now.date())
