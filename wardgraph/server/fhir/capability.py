"""GET /fhir/metadata: the CapabilityStatement of what this server does, and nothing more."""

from __future__ import annotations

from wardgraph.server.fhir.resources import VITAL_SIGNS_PROFILE, Resource
from wardgraph.server.fhir.scopes import SCOPES

# When this statement last changed (CapabilityStatement.date is required).
STATEMENT_DATE = "2026-12-08"


def search_param(name: str, kind: str, documentation: str) -> dict[str, str]:
    return {"name": name, "type": kind, "documentation": documentation}


def capability_statement(base: str, version: str) -> Resource:
    scopes = "; ".join(f"{s.smart} = {s.partner_scope}" for s in SCOPES)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": STATEMENT_DATE,
        "kind": "instance",
        "software": {"name": "wardgraph", "version": version},
        "implementation": {"description": "wardgraph FHIR R4 face", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{"coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "SMART-on-FHIR"}]}],
                "description": "Bearer tokens: a user's JWT or a partner token. Partner scopes "
                               "as SMART system scopes: " + scopes,
            },
            "resource": [
                {"type": "Patient", "interaction": [{"code": "read"}, {"code": "search-type"}],
                 "searchParam": [search_param("identifier", "token", "The MRN")]},
                {"type": "Encounter", "interaction": [{"code": "search-type"}],
                 "searchParam": [search_param("patient", "reference", "Required")]},
                {"type": "Observation",
                 "supportedProfile": [VITAL_SIGNS_PROFILE],
                 "interaction": [{"code": "read"}, {"code": "search-type"},
                                 {"code": "create"}],
                 "searchParam": [
                     search_param("patient", "reference", "Required"),
                     search_param("category", "token", "vital-signs or survey (NEWS2)"),
                     search_param("date", "date", "ge, gt, le, lt with an offset"),
                 ]},
            ],
            "interaction": [{"code": "transaction"}],
        }],
    }
