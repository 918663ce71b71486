"""Structured logs: one JSON object per line, each carrying the request it belongs to.

The request id and the operation live in context variables set when a request starts, so every
line logged while serving it (by wardgraph, strawberry, asyncpg or uvicorn) carries them without
being passed around. asyncio copies context variables into the tasks a request starts, so
resolvers running concurrently log under their request's id too.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

request_id_var: ContextVar[str | None] = ContextVar("wardgraph_request_id", default=None)
operation_var: ContextVar[str | None] = ContextVar("wardgraph_operation", default=None)

# Attributes every LogRecord has; anything else passed with `extra=` is written as a field.
# uvicorn adds color_message, the same text with terminal colours.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName", "color_message",
}
# The fields of the contract, in this order; extras follow.
FIELDS = ("ts", "level", "msg", "request_id", "operation", "code", "duration_ms")


class JsonFormatter(logging.Formatter):
    """A LogRecord as one line of JSON: ts, level, msg, request_id, operation, code, duration_ms,
    then the logger's name, any extras and the exception, if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "msg": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
            "operation": getattr(record, "operation", None) or operation_var.get(),
            "code": getattr(record, "code", None),
            "duration_ms": getattr(record, "duration_ms", None),
            "logger": record.name,
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger's records to `stream` (stderr) as JSON lines; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's access log repeats our request line without the request id; its error log stays.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # Strawberry logs every GraphQL error with a stack trace, the client's mistakes included;
    # wardgraph.errors logs the faults (INTERNAL) with their request id instead.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    return handler
