"""What a client sees of an error: a clear message and ``extensions.code``, never database text
or a stack trace. Anything not known to be the client's doing is INTERNAL, logged with the
request id, and the id is the only detail returned."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
from graphql import GraphQLError

from wardgraph import errors
from wardgraph.db.errors import to_app_error
from wardgraph.errors import AppError

log = logging.getLogger("wardgraph.errors")

UNAVAILABLE = (asyncpg.InterfaceError, asyncpg.PostgresConnectionError, ConnectionError,
               OSError, TimeoutError)


def app_error_of(error: BaseException | None) -> AppError | None:
    """The client error for an exception raised while resolving, or None if it is a fault."""
    if isinstance(error, AppError):
        return error
    if isinstance(error, asyncpg.PostgresError):
        return to_app_error(error)
    if isinstance(error, UNAVAILABLE):
        return AppError(errors.SERVICE_UNAVAILABLE,
                        "The database is unavailable; try again shortly")
    return None


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if original is None or (error.path is None and app_error_of(original) is None):
        # The document or its variables did not validate: graphql-core's message speaks only
        # of what the client sent.
        code = "GRAPHQL_PARSE_FAILED" if error.message.startswith("Syntax Error") else (
            "GRAPHQL_VALIDATION_FAILED")
        formatted["extensions"] = {"code": code}
        return formatted
    app_error = app_error_of(original)
    if app_error is None:
        log.error("internal error (request %s)", request_id, exc_info=original)
        app_error = AppError(errors.INTERNAL, "Internal error")
    formatted["message"] = app_error.message
    formatted["extensions"] = app_error.extensions
    if app_error.code in (errors.INTERNAL, errors.SERVICE_UNAVAILABLE):
        formatted["extensions"]["requestId"] = request_id
    return formatted
