"""Live NEWS2 alerts over WebSocket (graphql-transport-ws).

One LISTEN connection per process hears of every escalation (the trigger in
policies/observations.sql sends only a tenant id and an escalation id: NOTIFY payloads reach
listeners with no tenant set). The hub hands each notice to the subscribers of that tenant;
each subscriber re-reads the escalation in its own short transaction, as its own role with its
own claims, so row-level security decides whether it sees the alert: no tenant, facility or
scope ever receives another's. Notices sent while the listener is reconnecting are lost; a
client that reconnects reads current escalations over HTTP.

A subscriber's token is checked again before each alert and every
`subscription_recheck_seconds`: one that expired or was revoked closes the socket (4401). A
subscriber whose queue of pending notices fills up is closed too (4008), rather than silently
dropping clinical alerts; its client reconnects and catches up.

A connection_init whose token does not hold counts against the same per-address allowance of
failed credentials as HTTP (server/ratelimit.py), checked before the token is looked up: an
address over it is refused (4403) without costing the database anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
from graphql import GraphQLError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionResult, StreamExecutionResult
from strawberry.types.graphql import OperationType

from wardgraph import errors
from wardgraph.auth.authenticate import authenticate
from wardgraph.auth.claims import Claims
from wardgraph.auth.tokens import is_partner_token, partner_token_hash
from wardgraph.context import RequestContext
from wardgraph.db import alerts as db
from wardgraph.db.audit import AuditEvent, record_audit_events
from wardgraph.db.auth import fetch_partner_token_claims
from wardgraph.db.errors import UNAVAILABLE
from wardgraph.db.session import claimed_transaction
from wardgraph.server.errors import format_error
from wardgraph.server.metrics import Metrics
from wardgraph.server.ratelimit import RateLimited, RateLimiter, address_key

log = logging.getLogger("wardgraph.subscriptions")

CHANNEL = "wardgraph_escalations"
CLOSE_TOKEN_INVALID = 4401  # the token expired or was revoked: authenticate again
CLOSE_TOO_SLOW = 4008  # the client fell a full queue behind: reconnect and catch up
CLOSE_UNAVAILABLE = 1013  # the database is unavailable: try again later
# The listener checks its connection this often; a dead peer that sent no FIN is found here.
LISTENER_PING_SECONDS = 30.0
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Notice:
    tenant_id: UUID
    escalation_id: UUID


def parse_notice(payload: str) -> Notice | None:
    try:
        body = json.loads(payload)
        return Notice(UUID(body["tenantId"]), UUID(body["escalationId"]))
    except (ValueError, KeyError, TypeError):
        return None


class Subscriber:
    """One subscription's pending notices, at most `size` of them."""

    def __init__(self, tenant_id: UUID, size: int) -> None:
        self.tenant_id = tenant_id
        self.queue: asyncio.Queue[Notice] = asyncio.Queue(maxsize=max(1, size))
        self.overflowed = False

    def offer(self, notice: Notice) -> None:
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.overflowed = True

    async def next(self, wait_seconds: float) -> Notice | None:
        """The next notice, or None when `wait_seconds` pass without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), wait_seconds)
        except TimeoutError:
            return None


class AlertHub:
    """The process's one LISTEN connection (as the API's login role: LISTEN needs no
    privilege), reconnected when it drops, and the subscribers it fans notices out to."""

    def __init__(self, database_url: str, connect_timeout: float, metrics: Metrics) -> None:
        self.database_url = database_url
        self.connect_timeout = connect_timeout
        self.metrics = metrics
        self.subscribers: dict[UUID, set[Subscriber]] = {}
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def ready(self) -> None:
        """Listening, or SERVICE_UNAVAILABLE after the connect timeout."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever())
        try:
            await asyncio.wait_for(self.listening.wait(), self.connect_timeout)
        except TimeoutError as error:
            raise errors.unavailable() from error

    def subscribe(self, tenant_id: UUID, size: int) -> Subscriber:
        subscriber = Subscriber(tenant_id, size)
        self.subscribers.setdefault(tenant_id, set()).add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        peers = self.subscribers.get(subscriber.tenant_id)
        if peers is not None:
            peers.discard(subscriber)
            if not peers:
                del self.subscribers[subscriber.tenant_id]

    def dispatch(self, payload: str) -> None:
        notice = parse_notice(payload)
        if notice is None:
            log.warning("ignored a malformed notice on %s", CHANNEL)
            return
        for subscriber in list(self.subscribers.get(notice.tenant_id, ())):
            subscriber.offer(notice)

    def _on_notification(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self.dispatch(payload)

    async def _listen_forever(self) -> None:
        attempt = 0
        while True:
            try:
                await self._listen_once()
                attempt = 0
            except (asyncpg.PostgresError, *UNAVAILABLE) as error:
                log.warning("alert listener disconnected: %s", error.__class__.__name__)
            except Exception:
                # Whatever happened, a listener that stops for good would leave every
                # subscriber waiting in silence: log it and connect again.
                log.exception("alert listener failed")
            finally:
                self.listening.clear()
                self.metrics.alert_listener_up.set(0)
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1

    async def _listen_once(self) -> None:
        connection = await asyncpg.connect(self.database_url, timeout=self.connect_timeout)
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _: lost.set())
        try:
            await connection.add_listener(CHANNEL, self._on_notification)
            self.listening.set()
            self.metrics.alert_listener_up.set(1)
            while not connection.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), LISTENER_PING_SECONDS)
                if lost.is_set():
                    return
                await connection.execute("select 1", timeout=self.connect_timeout)
        finally:
            if not connection.is_closed():
                connection.terminate()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


@dataclass
class SubscriptionContext(RequestContext):
    """The context of one WebSocket connection: authenticated by its connection_init
    payload ({"Authorization": "Bearer ..."} or {"token": ...}) or the upgrade's header."""

    hub: AlertHub | None = None
    metrics: Metrics | None = None
    connection_params: dict[str, Any] | None = None
    token: str | None = field(default=None, repr=False)
    # Credentials that did not hold, per client address (shared with HTTP).
    failed_auth: RateLimiter | None = None

    async def close_socket(self, code: int, reason: str) -> None:
        with contextlib.suppress(RuntimeError):  # already closed
            await self.request.close(code=code, reason=reason)

    async def alert_stream(
        self, claims: Claims, ward_id: UUID | None
    ) -> AsyncGenerator[asyncpg.Record, None]:
        live = live_context(self)
        assert live.hub is not None
        await live.hub.ready()
        return alert_rows(live, claims, ward_id)


def presented_token(context: SubscriptionContext) -> str | None:
    params = context.connection_params or {}
    header = params.get("Authorization") or params.get("authorization")
    if not header and isinstance(params.get("token"), str):
        return str(params["token"]).strip() or None
    if not header:
        header = context.request.headers.get("authorization")
    if isinstance(header, str):
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


async def authenticate_connection(context: SubscriptionContext) -> None:
    """Claims for the connection, or a rejection (the socket closes with 4403).

    An address over its allowance of failed credentials is refused before the token is looked
    at, with 4403 too: graphql-transport-ws gives 4403 to an init the server refuses, while its
    4429 means a second connection_init on one socket, which a client would take for its own
    bug. A refused init is counted against the address, as HTTP counts a 401."""
    token = presented_token(context)
    if token is None:
        raise ConnectionRejectionError({"message": "Authentication required"})
    address = address_key(context.request.client)
    limiter = context.failed_auth
    if limiter is not None:
        try:
            limiter.require_one(address)
        except RateLimited as limited:
            raise ConnectionRejectionError({"message": str(limited)}) from None
    context.claims = None
    context.auth_failure = None
    await authenticate(context, f"Bearer {token}")
    if context.claims is None:
        failure = context.auth_failure
        if limiter is not None and (failure is None or failure.code == errors.UNAUTHENTICATED):
            # Emptied meanwhile by concurrent attempts: refused either way.
            with contextlib.suppress(RateLimited):
                limiter.check(address)
        message = failure.message if failure else "Invalid token"
        raise ConnectionRejectionError({"message": message})
    context.token = token


def live_context(context: RequestContext) -> SubscriptionContext:
    if not isinstance(context, SubscriptionContext) or context.hub is None:
        raise errors.invalid("subscription", "Subscribe over WebSocket (graphql-transport-ws)")
    return context


async def still_valid(context: SubscriptionContext, claims: Claims) -> bool:
    """Whether the connection's token still holds: not expired, and for a partner token not
    revoked (asked of the database, like every partner request)."""
    now = datetime.now(UTC)
    if claims.expires_at is not None and claims.expires_at <= now:
        return False
    if claims.is_partner and context.token and is_partner_token(context.token):
        row = await fetch_partner_token_claims(
            context.state.pool, partner_token_hash(context.token), now,
            context.settings.pool_timeout_seconds)
        return row is not None
    return True


async def read_alert(context: SubscriptionContext, claims: Claims, notice: Notice,
                     ward_id: UUID | None) -> asyncpg.Record | None:
    """The escalation as this subscriber may see it, in a short transaction of its own; a read
    of PHI, so it is audited like any other."""
    settings = context.settings
    async with context.state.pool.acquire(
        timeout=settings.pool_timeout_seconds
    ) as connection, claimed_transaction(
        connection, claims, context.request_id, settings.limits.statement_timeout_ms,
        settings.claims_mode,
    ) as session:
        row = await db.fetch_alert(session, notice.tenant_id, notice.escalation_id, ward_id)
        if row is not None:
            await record_audit_events(
                session, [AuditEvent("READ", "Escalation", row["id"], row["patient_id"])],
                datetime.now(UTC))
        return row


async def alert_rows(context: SubscriptionContext, claims: Claims,
                     ward_id: UUID | None) -> AsyncGenerator[asyncpg.Record, None]:
    """The escalations this subscriber may see, as they are raised, until the socket closes."""
    assert context.hub is not None and context.metrics is not None
    hub, metrics, settings = context.hub, context.metrics, context.settings
    subscriber = hub.subscribe(claims.tenant_id, settings.limits.subscription_queue_size)
    metrics.subscriptions_open.inc()
    try:
        while True:
            notice = await subscriber.next(settings.subscription_recheck_seconds)
            if subscriber.overflowed:
                metrics.slow_subscribers.inc()
                await _close(context, CLOSE_TOO_SLOW, "Too slow: the alert queue overflowed")
            try:
                if not await still_valid(context, claims):
                    await _close(context, CLOSE_TOKEN_INVALID, "Token expired or revoked")
                if notice is None:
                    continue
                row = await read_alert(context, claims, notice, ward_id)
            except (asyncpg.PostgresError, *UNAVAILABLE):
                log.warning("alert read failed; closing the subscription", exc_info=True)
                await _close(context, CLOSE_UNAVAILABLE, "Database unavailable; reconnect")
                continue
            if row is not None:
                metrics.alert_deliveries.inc()
                yield row
    finally:
        hub.unsubscribe(subscriber)
        metrics.subscriptions_open.dec()


async def _close(context: SubscriptionContext, code: int, reason: str) -> None:
    """Close the socket, then wait to be cancelled: the protocol handler ends every operation
    of a closed connection, and a `complete` message cannot follow a close."""
    await context.close_socket(code, reason)
    await asyncio.Event().wait()


class LiveTransport(SchemaExtension):
    """Subscriptions are served over WebSocket only, and the WebSocket serves subscriptions
    only: each WebSocket connection has one context, and a query's transaction belongs to one
    request, so queries and mutations go over HTTP."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.pre_execution_errors is None and ctx.graphql_document is not None:
            over_websocket = isinstance(ctx.context, SubscriptionContext)
            subscription = ctx.operation_type is OperationType.SUBSCRIPTION
            if over_websocket and not subscription:
                ctx.pre_execution_errors = [GraphQLError(
                    "Over WebSocket this server serves subscriptions only; send queries and "
                    "mutations over HTTP")]
            elif subscription and not over_websocket:
                ctx.pre_execution_errors = [GraphQLError(
                    "Subscriptions are served over WebSocket (graphql-transport-ws)")]
        yield

    def on_stream_result(self, result: StreamExecutionResult) -> Iterator[None]:
        # Errors sent over the socket read like those sent over HTTP: a message, a code, and no
        # database text.
        context = self.execution_context.context
        if (isinstance(result, ExecutionResult) and isinstance(context, RequestContext)
                and result.errors):
            result.errors = [_reformatted(error, context.request_id) for error in result.errors]
        yield


def _reformatted(error: GraphQLError, request_id: str) -> GraphQLError:
    formatted = format_error(error, request_id)
    return GraphQLError(formatted["message"], nodes=error.nodes, path=error.path,
                        extensions=formatted.get("extensions"))
