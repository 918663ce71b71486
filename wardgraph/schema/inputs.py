"""Mutation inputs: one `<Mutation>Input` per mutation."""

from __future__ import annotations

from datetime import date

import strawberry

from wardgraph.schema.enums import Role


@strawberry.input(description="A new facility.")
class CreateFacilityInput:
    code: str = strawberry.field(description="2-12 upper-case letters or digits, unique in the "
                                 "tenant, e.g. \"DHK\".")
    name: str = strawberry.field(description="Display name.")
    timezone: str = strawberry.field(description="IANA time zone, e.g. \"Asia/Dhaka\"; unknown "
                                     "zones are refused.")
    currency: str | None = strawberry.field(default=None,
                                            description="ISO 4217 code (default \"USD\").")


@strawberry.input(description="A new ward.")
class CreateWardInput:
    facility_id: strawberry.ID = strawberry.field(description="The facility.")
    name: str = strawberry.field(description="Unique in the facility.")
    daily_rate: str = strawberry.field(description="Charge per bed-day as a decimal string, "
                                       "e.g. \"250.00\", in the facility's currency.")


@strawberry.input(description="A new bed.")
class CreateBedInput:
    ward_id: strawberry.ID = strawberry.field(description="The ward.")
    label: str = strawberry.field(description="Unique in the ward, e.g. \"A-01\".")


@strawberry.input(description="A new member of staff.")
class CreateUserInput:
    email: str = strawberry.field(description="Login e-mail, unique in the tenant.")
    role: Role = strawberry.field(description="ADMIN, CLINICIAN, NURSE, BILLING or AUDITOR.")
    facility_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Facilities the user works in.")
    display_name: str | None = strawberry.field(default=None, description="Name shown to "
                                                "colleagues.")
    password: str | None = strawberry.field(default=None, description="At least 12 characters; "
                                            "without one the user cannot log in yet.")


@strawberry.input(description="A new patient.")
class CreatePatientInput:
    mrn: str = strawberry.field(description="Medical record number, unique in the tenant.")
    given_name: str = strawberry.field(description="Given name.")
    family_name: str = strawberry.field(description="Family name.")
    birth_date: date = strawberry.field(description="Date of birth.")
    facility_id: strawberry.ID | None = strawberry.field(
        default=None, description="Registering facility; defaults to the user's only facility.")


@strawberry.input(description="Credentials of a user.")
class LoginInput:
    tenant: str = strawberry.field(description="The tenant's slug.")
    email: str = strawberry.field(description="The user's e-mail.")
    password: str = strawberry.field(description="The user's password.")
