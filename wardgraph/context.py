"""The per-request context: who is asking, the request's clock, its transaction and loaders."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
from starlette.responses import Response

from wardgraph import errors
from wardgraph.auth.claims import Claims, Role
from wardgraph.config import Settings
from wardgraph.cursors import CursorSigner
from wardgraph.db.audit import AuditEvent, commit_with_audit_events
from wardgraph.db.loaders import Loaders
from wardgraph.db.pool import statements_sent
from wardgraph.db.session import Session, begin_with_claims

STATEMENTS_HEADER = "X-SQL-Statements"


def request_clock() -> datetime:
    """The one clock of a request (tests pin it with freezegun), timezone-aware UTC."""
    return datetime.now(UTC)


def new_request_id() -> str:
    return uuid.uuid4().hex


@dataclass
class AppState:
    """What lives as long as the server: settings and the login role's pool."""

    settings: Settings
    pool: asyncpg.Pool


@dataclass
class RequestContext:
    state: AppState
    request_id: str = field(default_factory=new_request_id)
    now: datetime = field(default_factory=request_clock)
    claims: Claims | None = None
    auth_failure: errors.AppError | None = None
    request: Any = None
    response: Any = None
    audit: list[AuditEvent] = field(default_factory=list)
    _connection: asyncpg.pool.PoolConnectionProxy | None = None
    _session: Session | None = None
    _loaders: Loaders | None = None
    _opening: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Every statement the request's transaction sent, BEGIN and COMMIT included; known once it
    # has finished (development answers it in the X-SQL-Statements header).
    statements_sent: int = 0
    # Whether the answer came from the query's plan (wardgraph/pipeline/planned) rather than the
    # general executor.
    planned: bool = False
    # Why the plan did not answer a query, when it did not (/metrics counts it by this reason).
    plan_fallback: str | None = None
    _sent_before: int = 0

    @property
    def settings(self) -> Settings:
        return self.state.settings

    def cursors(self, kind: str) -> CursorSigner:
        """The signer of one connection's cursors, keyed by the server's secret."""
        secret = self.settings.jwt_secret
        if not secret:
            raise RuntimeError("the server has no secret to sign cursors with")
        return CursorSigner(secret, kind)

    # -- who is asking -------------------------------------------------------------------------

    def require(self, *roles: Role, scope: str | None = None) -> Claims:
        """The claims, if the caller is authenticated and its role (or scope) may do this.

        FORBIDDEN speaks of the operation as a whole and never of a row.
        """
        if self.claims is None:
            raise self.auth_failure or errors.unauthenticated()
        if self.claims.role not in roles:
            raise errors.forbidden()
        if self.claims.is_partner and scope is not None and scope not in self.claims.scopes:
            raise errors.forbidden(f"This token lacks the {scope} scope")
        return self.claims

    def authenticated(self) -> Claims:
        return self.require(*Role)

    async def alert_stream(
        self, claims: Claims, ward_id: uuid.UUID | None, after: uuid.UUID | None = None
    ) -> AsyncGenerator[asyncpg.Record, None]:
        """The escalations this caller may see, as they are raised. Served over WebSocket only:
        the WebSocket connection's context (server/live.py) provides the stream."""
        raise errors.invalid("subscription", "Subscribe over WebSocket (graphql-transport-ws)")

    # -- the transaction -----------------------------------------------------------------------

    async def db(self) -> Session:
        """The request's transaction, opened on first use with the role and claims set.

        Sibling resolvers ask at the same moment; the lock makes them share one connection.
        """
        if self._session is not None:
            return self._session
        async with self._opening:
            return await self._open()

    async def _open(self) -> Session:
        if self._session is None:
            claims = self.authenticated()
            pool = self.state.pool
            try:
                connection = await pool.acquire(timeout=self.settings.pool_timeout_seconds)
            except (TimeoutError, OSError, asyncpg.PostgresConnectionError) as error:
                raise errors.unavailable() from error
            self._connection = connection
            self._sent_before = statements_sent(connection)
            self._session = await begin_with_claims(
                connection, claims, self.request_id, self.settings.limits.statement_timeout_ms,
                self.settings.claims_mode)
        return self._session

    @property
    def statements(self) -> int:
        """Every statement the request's transactions sent so far, BEGIN and COMMIT included."""
        if self._connection is None:
            return self.statements_sent
        return self.statements_sent + statements_sent(self._connection) - self._sent_before

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            claims = self.authenticated()
            self._loaders = Loaders(self.db, claims.tenant_id, claims.role)
        return self._loaders

    def audit_read(self, object_type: str, object_id: uuid.UUID,
                   patient_id: uuid.UUID | None = None) -> None:
        self.audit.append(AuditEvent("READ", object_type, object_id, patient_id))

    def audit_write(self, operation: str, object_type: str, object_id: uuid.UUID,
                    patient_id: uuid.UUID | None = None) -> None:
        self.audit.append(AuditEvent(operation, object_type, object_id, patient_id))

    async def finish(self, commit: bool) -> None:
        """Write the audit events and commit, or roll everything back; release the connection."""
        if self._connection is None:
            return
        try:
            if commit and self.audit and self._session is not None:
                await commit_with_audit_events(self._session, self.audit, self.now)
            else:
                await self._connection.execute("commit" if commit else "rollback")
        except BaseException:
            if not self._connection.is_closed():
                try:
                    await self._connection.execute("rollback")
                except (asyncpg.InterfaceError, asyncpg.PostgresError):
                    pass
            raise
        finally:
            self.statements_sent += statements_sent(self._connection) - self._sent_before
            await self.state.pool.release(self._connection)
            self._connection = None
            self._session = None
            self._show_statements()

    async def start_over(self) -> None:
        """Roll back and forget what this request read: its next statement opens a fresh
        transaction, and its DataLoaders are new. For a read-only plan abandoned on a database
        error, which leaves the transaction aborted (wardgraph/pipeline/planned)."""
        await self.finish(commit=False)
        self._loaders = None

    def forget_reads(self) -> None:
        """New DataLoaders, in the same transaction: for a plan abandoned without a database
        error, so that the general executor runs as if no plan had (wardgraph/pipeline/planned).
        With the plan's rows cached, a field the general executor would cancel (graphql-core
        stops siblings once a null reaches the root) could finish first, and audit a read of a
        patient whose record is not sent."""
        self._loaders = None

    def _show_statements(self) -> None:
        """In development, the statement count in a response header: how tests and benchmarks
        see, over HTTP, that a list costs no more statements than one row."""
        if isinstance(self.response, Response) and not self.settings.production:
            self.response.headers[STATEMENTS_HEADER] = str(self.statements_sent)
