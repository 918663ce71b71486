"""SMART-on-FHIR system scopes, as the partner scopes the database enforces.

A partner token carries wardgraph's scopes; the FHIR face reads them as the SMART v2 scopes
below and adds nothing of its own: each interaction calls the resolver GraphQL calls, which
requires the partner scope, and the RLS policies (`*_partner_needs_scope`) check it again in
SQL. User tokens (staff roles) are not scoped; their role decides, as in GraphQL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SmartScope:
    smart: str
    partner_scope: str
    serves: str


SCOPES = (
    SmartScope("system/Patient.rs", "patients:read",
               "GET /fhir/Patient/{id}, GET /fhir/Patient?identifier="),
    SmartScope("system/Encounter.rs", "admissions:read", "GET /fhir/Encounter?patient="),
    SmartScope("system/Observation.rs", "observations:read",
               "GET /fhir/Observation/{id}, GET /fhir/Observation?patient="),
    SmartScope("system/Observation.c", "observations:write",
               "POST /fhir/Observation, POST /fhir (transaction Bundle)"),
)

SMART_OF = {scope.partner_scope: scope.smart for scope in SCOPES}

