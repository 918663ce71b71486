"""Closed sets of the API."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum(description="What a user may do; a partner token acts as PARTNER.")
class Role(enum.Enum):
    ADMIN = strawberry.enum_value("ADMIN", description="Tenant settings, staff, all data.")
    CLINICIAN = strawberry.enum_value(
        "CLINICIAN", description="Patients and clinical data of their facilities.")
    NURSE = strawberry.enum_value(
        "NURSE", description="Patients, admissions and observations of their facilities.")
    BILLING = strawberry.enum_value(
        "BILLING", description="Admissions, bed-days and reports of their facilities; no vitals.")
    AUDITOR = strawberry.enum_value(
        "AUDITOR", description="The audit trail and the policy matrix; no PHI.")
    PARTNER = strawberry.enum_value(
        "PARTNER", description="A partner integration, limited by its token's scopes.")


@strawberry.enum(description="Whether the caller is a person or a partner integration.")
class ViewerKind(enum.Enum):
    USER = "USER"
    PARTNER = "PARTNER"


@strawberry.enum(description="NEWS2 SpO2 scale (RCP 2017).")
class Spo2Scale(enum.Enum):
    SCALE_1 = strawberry.enum_value("SCALE_1", description="The default scale.")
    SCALE_2 = strawberry.enum_value(
        "SCALE_2",
        description="For a prescribed 88-92% target, e.g. hypercapnic respiratory failure.")
