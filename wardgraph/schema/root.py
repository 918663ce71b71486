"""The root types. Each field hands over to a resolver and builds its answer's type from what
the resolver returns (rows or small dataclasses)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from datetime import date, datetime
from typing import Annotated, Any

import strawberry

from wardgraph import news2
from wardgraph.auth.claims import Role as ClaimRole
from wardgraph.context import RequestContext
from wardgraph.resolvers import (
    admissions,
    alerts,
    audit,
    billing,
    nodes,
    observations,
    organisation,
    partner_tokens,
    patients,
    reports,
    viewer,
)
from wardgraph.schema.admissions import (
    Admission,
    AdmitPatientInput,
    DischargePatientInput,
    TransferPatientInput,
    UndoDischargeInput,
)
from wardgraph.schema.alerts import News2Alert, alerts_of
from wardgraph.schema.audit import AuditEvent
from wardgraph.schema.billing import AccrualResult, AccrueBedDaysInput
from wardgraph.schema.enums import Spo2Scale
from wardgraph.schema.inputs import (
    CreateBedInput,
    CreateFacilityInput,
    CreatePatientInput,
    CreateUserInput,
    CreateWardInput,
    LoginInput,
)
from wardgraph.schema.observations import (
    News2Score,
    Observation,
    RecordObservationInput,
    SetSpo2ScaleInput,
    VitalsInput,
)
from wardgraph.schema.organisation import Bed, Facility, User, Ward
from wardgraph.schema.partner_tokens import (
    CreatePartnerTokenInput,
    CreatePartnerTokenPayload,
    PartnerToken,
    RevokePartnerTokenInput,
)
from wardgraph.schema.patients import Patient
from wardgraph.schema.relay import Connection, Node, connection
from wardgraph.schema.reports import DailyReportRow
from wardgraph.schema.viewer import LoginPayload, Viewer

Info = strawberry.Info[RequestContext, None]

# What node(id:) builds from what each type's resolver returns.
NODE_TYPES: dict[str, Callable[[Any], Node]] = {
    "Facility": Facility.from_row,
    "Ward": Ward.of,
    "Bed": Bed.from_row,
    "Patient": Patient.from_row,
    "Admission": Admission.from_row,
    "Observation": Observation.of,
    "PartnerToken": PartnerToken.from_row,
    "AuditEvent": AuditEvent.from_row,
}


@strawberry.type(description="Reads.")
class Query:
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        found = await nodes.node(info.context, id)
        return NODE_TYPES[found.type_name](found.value)

    @strawberry.field(description="The caller: user or partner, tenant, role, facilities, scopes.")
    def viewer(self, info: Info) -> Viewer:
        return Viewer.of(viewer.viewer(info.context))

    @strawberry.field(description="Facilities the caller may see, by code.")
    async def facilities(self, info: Info, first: int | None = None,
                         after: str | None = None) -> Connection[Facility]:
        return connection(await organisation.facilities(info.context, first, after),
                          Facility.from_row)

    @strawberry.field(description="One facility.")
    async def facility(self, info: Info, id: strawberry.ID) -> Facility | None:
        return Facility.from_row(await organisation.facility(info.context, id))

    @strawberry.field(description="One ward, with its beds.")
    async def ward(self, info: Info, id: strawberry.ID) -> Ward | None:
        return Ward.of(await organisation.ward(info.context, id))

    @strawberry.field(description="Patients the caller may see, by family name; `search` matches "
                      "an MRN exactly or a name by prefix.")
    async def patients(self, info: Info, first: int | None = None, after: str | None = None,
                       search: str | None = None) -> Connection[Patient]:
        return connection(await patients.patients(info.context, first, after, search),
                          Patient.from_row)

    @strawberry.field(description="One patient.")
    async def patient(self, info: Info, id: strawberry.ID) -> Patient | None:
        return Patient.from_row(await patients.patient(info.context, id))

    @strawberry.field(description="One admission (partners need the admissions:read scope).")
    async def admission(self, info: Info, id: strawberry.ID) -> Admission | None:
        return Admission.from_row(await admissions.admission(info.context, id))

    @strawberry.field(description="One row per facility-local date from `from` to `to` (at most "
                      "366 dates; ADMIN, BILLING, CLINICIAN; partners need reports:read).")
    async def daily_report(
        self, info: Info, facility_id: strawberry.ID,
        from_: Annotated[date, strawberry.argument(name="from", description="First local date.")],
        to: Annotated[date, strawberry.argument(description="Last local date (inclusive).")],
    ) -> list[DailyReportRow]:
        return [DailyReportRow.from_row(r)
                for r in await reports.daily_report(info.context, facility_id, from_, to)]

    @strawberry.field(description="NEWS2 calculator: scores vital signs and stores nothing (any "
                      "authenticated caller).")
    def news2(self, info: Info, vitals: VitalsInput,
              spo2_scale: Spo2Scale | None = Spo2Scale.SCALE_1) -> News2Score:
        scale = news2.Spo2Scale((spo2_scale or Spo2Scale.SCALE_1).name)
        return News2Score.of(observations.calculate(info.context, vitals, scale))

    @strawberry.field(description="AUDITOR: the PHI audit trail of the tenant, newest first; "
                      "reading it is not itself audited. Filters: the patient whose data was "
                      "touched, the actor (a User or PartnerToken id), and a time window.")
    async def audit_events(
        self, info: Info, first: int | None = None, after: str | None = None,
        patient_id: strawberry.ID | None = None, actor_id: strawberry.ID | None = None,
        occurred_from: Annotated[datetime | None, strawberry.argument(
            name="from", description="Events at or after this instant.")] = None,
        occurred_to: Annotated[datetime | None, strawberry.argument(
            name="to", description="Events before this instant.")] = None,
    ) -> Connection[AuditEvent]:
        return connection(await audit.audit_events(info.context, first, after, patient_id,
                                                   actor_id, occurred_from, occurred_to),
                          AuditEvent.from_row)


@strawberry.type(description="Writes. Each runs in one transaction: all of it or none of it.")
class Mutation:
    @strawberry.mutation(description="Exchange credentials for a short-lived token.")
    async def login(self, info: Info, input: LoginInput) -> LoginPayload:
        return LoginPayload.of(
            await viewer.login(info.context, input.tenant, input.email, input.password))

    @strawberry.mutation(description="ADMIN: add a facility.")
    async def create_facility(self, info: Info, input: CreateFacilityInput) -> Facility:
        return Facility.from_row(await organisation.create_facility(
            info.context, input.code, input.name, input.timezone, input.currency))

    @strawberry.mutation(description="ADMIN: add a ward to a facility.")
    async def create_ward(self, info: Info, input: CreateWardInput) -> Ward:
        return Ward.of(await organisation.create_ward(
            info.context, input.facility_id, input.name, input.daily_rate))

    @strawberry.mutation(description="ADMIN: add a bed to a ward.")
    async def create_bed(self, info: Info, input: CreateBedInput) -> Bed:
        return Bed.from_row(
            await organisation.create_bed(info.context, input.ward_id, input.label))

    @strawberry.mutation(description="ADMIN: add a member of staff.")
    async def create_user(self, info: Info, input: CreateUserInput) -> User:
        return User.from_row(await organisation.create_user(
            info.context, input.email, input.display_name, ClaimRole(input.role.value),
            list(input.facility_ids), input.password))

    @strawberry.mutation(description="Register a patient (ADMIN, CLINICIAN, NURSE).")
    async def create_patient(self, info: Info, input: CreatePatientInput) -> Patient:
        return Patient.from_row(await patients.create_patient(
            info.context, input.mrn, input.given_name, input.family_name, input.birth_date,
            input.facility_id, info.context.now.date()))

    @strawberry.mutation(description="ADMIN: a scoped token for a partner; the token is shown "
                         "once.")
    async def create_partner_token(self, info: Info, input: CreatePartnerTokenInput
                                   ) -> CreatePartnerTokenPayload:
        return CreatePartnerTokenPayload.of(await partner_tokens.create_partner_token(
            info.context, input.name, input.scopes, list(input.facility_ids), input.expires_at))

    @strawberry.mutation(description="ADMIN: revoke a partner token; refused from this moment. "
                         "Revoking twice keeps the first time.")
    async def revoke_partner_token(self, info: Info, input: RevokePartnerTokenInput
                                   ) -> PartnerToken:
        return PartnerToken.from_row(
            await partner_tokens.revoke_partner_token(info.context, input.id))

    @strawberry.mutation(description="ADMIN, BILLING: charge a facility's bed-days for every "
                         "local date up to and including `through`; idempotent.")
    async def accrue_bed_days(self, info: Info, input: AccrueBedDaysInput) -> AccrualResult:
        return AccrualResult.of(
            await billing.accrue_bed_days(info.context, input.facility_id, input.through))

    @strawberry.mutation(description="Admit a patient to a free bed (ADMIN, CLINICIAN, NURSE). "
                         "BED_OCCUPIED, PATIENT_ALREADY_ADMITTED or STAY_OVERLAPS when the "
                         "database refuses it.")
    async def admit_patient(self, info: Info, input: AdmitPatientInput) -> Admission:
        return Admission.from_row(await admissions.admit_patient(
            info.context, input.patient_id, input.bed_id, input.admitted_at))

    @strawberry.mutation(description="Move an admitted patient to a free bed of the same "
                         "facility in one step (ADMIN, CLINICIAN, NURSE); if refused, the "
                         "patient stays where they were.")
    async def transfer_patient(self, info: Info, input: TransferPatientInput) -> Admission:
        return Admission.from_row(await admissions.transfer_patient(
            info.context, input.admission_id, input.to_bed_id, input.at))

    @strawberry.mutation(description="Discharge a patient (ADMIN, CLINICIAN, NURSE); "
                         "idempotent.")
    async def discharge_patient(self, info: Info, input: DischargePatientInput) -> Admission:
        return Admission.from_row(await admissions.discharge_patient(
            info.context, input.admission_id, input.discharged_at))

    @strawberry.mutation(description="ADMIN: undo a discharge made in error. The admission is "
                         "ACTIVE again in its last bed, from its admission on, and is charged "
                         "bed-days up to the facility's last accrual (a charge no longer called "
                         "for is reversed as discharge_undone); idempotent. BED_OCCUPIED or "
                         "PATIENT_ALREADY_ADMITTED if the bed or the patient has been admitted "
                         "since, STAY_OVERLAPS if either was occupied since.")
    async def undo_discharge(self, info: Info, input: UndoDischargeInput) -> Admission:
        return Admission.from_row(await admissions.undo_discharge(
            info.context, input.admission_id))

    @strawberry.mutation(description="Record a patient's vital signs, scored with NEWS2 on the "
                         "patient's SpO2 scale (NURSE, CLINICIAN; partners with "
                         "observations:write). A MEDIUM or HIGH risk, or a red score, raises an "
                         "escalation in the same transaction.")
    async def record_observation(self, info: Info, input: RecordObservationInput) -> Observation:
        return Observation.of(await observations.record_observation(info.context, input))

    @strawberry.mutation(description="CLINICIAN: set the NEWS2 SpO2 scale of a patient; who set "
                         "it and when are recorded.")
    async def set_spo2_scale(self, info: Info, input: SetSpo2ScaleInput) -> Patient:
        return Patient.from_row(await observations.set_spo2_scale(
            info.context, input.patient_id, news2.Spo2Scale(input.scale.name)))


@strawberry.type(description="Live updates, over WebSocket (graphql-transport-ws) at /graphql, "
                 "authenticated in connection_init: {\"Authorization\": \"Bearer ...\"}.")
class Subscription:
    @strawberry.subscription(description="NEWS2 escalations as they are raised (MEDIUM or HIGH "
                             "risk, or a red score), of one ward or of every ward the caller "
                             "sees (ADMIN, CLINICIAN, NURSE; partners need observations:read). "
                             "A client that reconnects gives `after`, the escalationId of the "
                             "last alert it received, and first receives what it missed.")
    async def news2_alerts(
        self, info: Info, ward_id: strawberry.ID | None = None,
        after: Annotated[strawberry.ID | None, strawberry.argument(
            description="The escalationId of the last alert received: resume after it.")] = None,
    ) -> AsyncGenerator[News2Alert, None]:
        return alerts_of(await alerts.news2_alerts(info.context, ward_id, after))
