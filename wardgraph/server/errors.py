"""What a client sees of an error: a clear message and ``extensions.code``, never database text
or a stack trace. Anything not known to be the client's doing is INTERNAL, logged with the
request id, and the id is the only detail returned."""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from graphql import GraphQLError

from wardgraph import errors
from wardgraph.db.errors import UNAVAILABLE, to_app_error
from wardgraph.errors import AppError

log = logging.getLogger("wardgraph.errors")


def app_error_of(error: BaseException | None) -> AppError | None:
    """The client error for an exception raised while resolving, or None if it is a fault."""
    if isinstance(error, AppError):
        return error
    if isinstance(error, asyncpg.PostgresError):
        return to_app_error(error)
    if isinstance(error, UNAVAILABLE):
        return errors.unavailable()
    return None


# graphql-core's words for a variable whose value does not fit its type, e.g.
# "Variable '$input' has invalid value at .consciousness: Value 'X' does not exist ..." or
# "Variable '$v' has invalid value: Expected value of type 'VitalsInput' to include required
# field 'pulse' ..." (older releases: 'Variable "$input" got invalid value ... at "input.x"').
_BAD_VARIABLE = re.compile(r"""^Variable ['"]\$(?P<variable>\w+)['"] (?:has|got) invalid value""")
_AT_PATH = re.compile(r"""\bat (?:"(?P<quoted>[^"]+)"|(?P<dotted>\.[\w.\[\]]+))""")
_NAMED_FIELD = re.compile(r"""(?:required field|Field) ['"](?P<field>\w+)['"]""")


def request_error_extensions(error: GraphQLError) -> dict[str, Any]:
    """The code of an error in the document or its variables (nothing was executed)."""
    if error.message.startswith("Syntax Error"):
        return {"code": "GRAPHQL_PARSE_FAILED"}
    bad_variable = _BAD_VARIABLE.match(error.message)
    if bad_variable:
        # Bad input, named like any other: the innermost field the message points at.
        named = _NAMED_FIELD.search(error.message)
        at = _AT_PATH.search(error.message)
        path = (at.group("quoted") or at.group("dotted")) if at else ""
        # A variable's own value (no path into it) is named by the variable.
        field = (named.group("field") if named else path.split(".")[-1].split("[")[0]
                 or bad_variable.group("variable"))
        extensions: dict[str, Any] = {"code": errors.VALIDATION_FAILED}
        if field:
            extensions["field"] = field
        return extensions
    return {"code": "GRAPHQL_VALIDATION_FAILED"}


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    formatted: dict[str, Any] = dict(error.formatted)
    original = error.original_error
    if original is None or (error.path is None and app_error_of(original) is None):
        # The document or its variables did not validate: graphql-core's message speaks only
        # of what the client sent.
        formatted["extensions"] = request_error_extensions(error)
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
