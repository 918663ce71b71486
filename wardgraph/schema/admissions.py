"""Admissions, the bed stays they are made of, and the inputs of the three mutations."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

import asyncpg
import strawberry

from wardgraph import ids
from wardgraph.context import RequestContext
from wardgraph.input_rules import BUSINESS_RANGE_TEXT
from wardgraph.resolvers import admissions as resolve
from wardgraph.resolvers import organisation, patients
from wardgraph.schema.organisation import Bed, Facility
from wardgraph.schema.patients import Patient
from wardgraph.schema.relay import Node

Info = strawberry.Info[RequestContext, None]

_LATEST = BUSINESS_RANGE_TEXT


@strawberry.enum(description="Where an admission stands.")
class AdmissionStatus(enum.Enum):
    ACTIVE = strawberry.enum_value("ACTIVE", description="The patient is in a bed now.")
    DISCHARGED = strawberry.enum_value(
        "DISCHARGED", description="The patient has been discharged; the admission is history.")


@strawberry.type(description="One bed an admission occupied and when. A transfer ends one stay "
                 "and begins the next at the same instant.")
class BedStay:
    bed_id: strawberry.Private[UUID]
    started_at: datetime = strawberry.field(description="When the patient entered the bed.")
    ended_at: datetime | None = strawberry.field(
        description="When the patient left the bed (transfer or discharge); null while there.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> BedStay:
        return cls(bed_id=row["bed_id"], started_at=row["started_at"], ended_at=row["ended_at"])

    @strawberry.field(description="The bed.")
    async def bed(self, info: Info) -> Bed:
        return Bed.from_row(await organisation.bed_of(info.context, self.bed_id))


@strawberry.type(description="A patient's time in hospital at one facility, from admission to "
                 "discharge. Every read is recorded in the audit trail.")
class Admission(Node):
    db_id: strawberry.Private[UUID]
    facility_id: strawberry.Private[UUID]
    patient_id: strawberry.Private[UUID]
    bed_id: strawberry.Private[UUID]
    number: str = strawberry.field(
        description="Human-readable number <FACILITY CODE>-<YYYY>-<NNNNNN>, e.g. "
        "\"DHK-2025-000042\": YYYY is the facility-local year of admission; numbers run without "
        "gaps per facility and year.")
    admitted_at: datetime = strawberry.field(description="When the patient was admitted.")
    discharged_at: datetime | None = strawberry.field(
        description="When the patient was discharged; null while admitted.")
    status: AdmissionStatus = strawberry.field(description="ACTIVE or DISCHARGED.")

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Admission:
        return cls(id=strawberry.ID(ids.encode("Admission", row["id"])), db_id=row["id"],
                   facility_id=row["facility_id"], patient_id=row["patient_id"],
                   bed_id=row["bed_id"], number=row["number"], admitted_at=row["admitted_at"],
                   discharged_at=row["discharged_at"], status=AdmissionStatus(row["status"]))

    @strawberry.field(description="The patient (partners need the patients:read scope).")
    async def patient(self, info: Info) -> Patient:
        return Patient.from_row(await patients.read_patient_of(info.context, self.patient_id))

    @strawberry.field(description="The bed the patient is in (the last one, once discharged).")
    async def bed(self, info: Info) -> Bed:
        return Bed.from_row(await organisation.bed_of(info.context, self.bed_id))

    @strawberry.field(description="The facility of the admission.")
    async def facility(self, info: Info) -> Facility:
        return Facility.from_row(await organisation.facility_of(info.context, self.facility_id))

    @strawberry.field(description="The beds of this admission in order, each with when the "
                      "patient entered and left it.")
    async def stays(self, info: Info) -> list[BedStay]:
        stays = await resolve.admission_stays(info.context, self.db_id)
        return [BedStay.from_row(r) for r in stays]


@strawberry.input(description="Admit a patient to a free bed.")
class AdmitPatientInput:
    patient_id: strawberry.ID = strawberry.field(description="The patient.")
    bed_id: strawberry.ID = strawberry.field(description="A bed that is free; the admission "
                                             "belongs to the bed's facility.")
    admitted_at: datetime | None = strawberry.field(
        default=None, description="When, with a UTC offset, for entries made after the fact; "
        "defaults to now. " + _LATEST)


@strawberry.input(description="Move an admitted patient to another bed of the same facility.")
class TransferPatientInput:
    admission_id: strawberry.ID = strawberry.field(description="The active admission.")
    to_bed_id: strawberry.ID = strawberry.field(description="A free bed of the same facility.")
    at: datetime | None = strawberry.field(
        default=None, description="When, with a UTC offset; defaults to now. " + _LATEST)


@strawberry.input(description="Undo the discharge of an admission, as a correction.")
class UndoDischargeInput:
    admission_id: strawberry.ID = strawberry.field(description="The discharged admission.")


@strawberry.input(description="Discharge a patient. Discharging again answers the admission "
                  "as it was first discharged.")
class DischargePatientInput:
    admission_id: strawberry.ID = strawberry.field(description="The admission.")
    discharged_at: datetime | None = strawberry.field(
        default=None, description="When, with a UTC offset; defaults to now. " + _LATEST)
