"""Errors a client may see: a clear message and a machine-readable ``extensions.code``."""

from __future__ import annotations

from typing import Any

UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"
VALIDATION_FAILED = "VALIDATION_FAILED"
BED_OCCUPIED = "BED_OCCUPIED"
PATIENT_ALREADY_ADMITTED = "PATIENT_ALREADY_ADMITTED"
STAY_OVERLAPS = "STAY_OVERLAPS"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
RATE_LIMITED = "RATE_LIMITED"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
INTERNAL = "INTERNAL"


class AppError(Exception):
    """An error whose message is safe to show a client."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    @property
    def extensions(self) -> dict[str, Any]:
        extensions: dict[str, Any] = {"code": self.code}
        if self.field is not None:
            extensions["field"] = self.field
        return extensions


def not_found() -> AppError:
    """The same error, word for word, whether the id does not exist or is not visible to you."""
    return AppError(NOT_FOUND, "Not found")


def forbidden(message: str = "Your role may not use this operation") -> AppError:
    return AppError(FORBIDDEN, message)


def unauthenticated(message: str = "Authentication required") -> AppError:
    return AppError(UNAUTHENTICATED, message)


def unavailable() -> AppError:
    """The database cannot be reached or went away: the client may send the request again."""
    return AppError(SERVICE_UNAVAILABLE, "The database is unavailable; try again shortly")


def invalid(field: str, message: str) -> AppError:
    return AppError(VALIDATION_FAILED, message, field=field)
