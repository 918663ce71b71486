"""What a failed migration tells the operator: one line, and whether running it again helps."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from sqlalchemy.exc import DBAPIError

from wardgraph.config import ConfigError

LOCK_NOT_AVAILABLE = "55P03"


class MigrationFailed(ConfigError):
    """A migration that rolled back. A ConfigError, so every command reports it as one line."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


def _database_error(error: BaseException) -> psycopg.Error | None:
    """The driver's error inside SQLAlchemy's wrapping, if the database raised it."""
    cause = error.orig if isinstance(error, DBAPIError) else error
    return cause if isinstance(cause, psycopg.Error) else None


def explain(error: BaseException, lock_timeout_seconds: int) -> MigrationFailed | None:
    database_error = _database_error(error)
    if database_error is None:
        return None
    if database_error.sqlstate == LOCK_NOT_AVAILABLE:
        return MigrationFailed(
            f"migration stopped: a lock was not granted within {lock_timeout_seconds}s "
            "(WARDGRAPH_MIGRATION_LOCK_TIMEOUT), a longer transaction holds it; nothing was "
            "changed, run `wardgraph migrate` again", retryable=True)
    diagnostic = database_error.diag
    detail = diagnostic.message_primary or str(database_error).splitlines()[0]
    if diagnostic.message_hint:
        detail += f" ({diagnostic.message_hint})"
    return MigrationFailed(f"migration failed and changed nothing: {detail}", retryable=False)


def migrate_or_explain(upgrade: Callable[[], None], lock_timeout_seconds: int) -> None:
    """Run an upgrade; a database error becomes a MigrationFailed of one line."""
    try:
        upgrade()
    except (psycopg.Error, DBAPIError) as error:
        failure = explain(error, lock_timeout_seconds)
        if failure is None:
            raise
        raise failure from None
