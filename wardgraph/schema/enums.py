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


@strawberry.enum(description="Level of consciousness on the ACVPU scale (NEWS2 chart 1; LOINC "
                 "67775-7 Level of responsiveness).")
class Consciousness(enum.Enum):
    ALERT = strawberry.enum_value("ALERT", description="Alert (scores 0).")
    NEW_CONFUSION = strawberry.enum_value(
        "NEW_CONFUSION", description="New confusion, disorientation or agitation (scores 3).")
    VOICE = strawberry.enum_value("VOICE", description="Responds to voice (scores 3).")
    PAIN = strawberry.enum_value("PAIN", description="Responds to pain (scores 3).")
    UNRESPONSIVE = strawberry.enum_value("UNRESPONSIVE", description="Unresponsive (scores 3).")


@strawberry.enum(description="NEWS2 clinical risk (RCP 2017 thresholds and triggers).")
class News2Risk(enum.Enum):
    LOW = strawberry.enum_value("LOW", description="Aggregate score 0-4 without a red score.")
    LOW_MEDIUM = strawberry.enum_value(
        "LOW_MEDIUM", description="A score of 3 in one parameter (red score), aggregate 0-4.")
    MEDIUM = strawberry.enum_value("MEDIUM", description="Aggregate score 5-6.")
    HIGH = strawberry.enum_value("HIGH", description="Aggregate score 7 or more.")
