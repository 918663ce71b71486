"""Errors as OperationOutcome resources, with the HTTP status each code takes.

The body says what failed in the client's terms and never carries database text. NOT_FOUND
has one body for every cause (no such id, another tenant's id, an id of another form), so a
client cannot tell a foreign id from a nonexistent one.
"""

from __future__ import annotations

import logging
from typing import Any

from wardgraph import errors
from wardgraph.errors import AppError
from wardgraph.server.fhir.scopes import SMART_OF

log = logging.getLogger("wardgraph.fhir")

# FHIR issue types (http://hl7.org/fhir/R4/valueset-issue-type.html) and HTTP statuses.
ISSUES: dict[str, tuple[int, str]] = {
    errors.UNAUTHENTICATED: (401, "login"),
    errors.FORBIDDEN: (403, "forbidden"),
    errors.NOT_FOUND: (404, "not-found"),
    errors.VALIDATION_FAILED: (400, "invalid"),
    errors.BED_OCCUPIED: (409, "conflict"),
    errors.PATIENT_ALREADY_ADMITTED: (409, "conflict"),
    errors.STAY_OVERLAPS: (409, "conflict"),
    errors.RATE_LIMITED: (429, "throttled"),
    errors.SERVICE_UNAVAILABLE: (503, "transient"),
    errors.INTERNAL: (500, "exception"),
}
NOT_SUPPORTED = "NOT_SUPPORTED"
ISSUES[NOT_SUPPORTED] = (400, "not-supported")


def outcome(code: str, message: str, expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": ISSUES[code][1],
                             "details": {"text": code}, "diagnostics": message}
    if expression is not None:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def status_of(code: str) -> int:
    return ISSUES.get(code, ISSUES[errors.INTERNAL])[0]


def client_message(error: AppError) -> str:
    """The message, with a missing partner scope also named as its SMART scope."""
    for partner_scope, smart in SMART_OF.items():
        if error.code == errors.FORBIDDEN and partner_scope in error.message:
            return f"This token lacks {smart} (the {partner_scope} scope)"
    return error.message


def unsupported(message: str, expression: str | None = None) -> AppError:
    """A search parameter or interaction this server does not offer."""
    return AppError(NOT_SUPPORTED, message, field=expression)


def internal(request_id: str) -> dict[str, Any]:
    return outcome(errors.INTERNAL, f"Internal error (request {request_id})")
