"""Live NEWS2 alerts over WebSocket (graphql-transport-ws): the connection's context, the
stream one subscription receives, and the rule that WebSocket serves subscriptions only.

The process's hub (server/alert_hub.py) hears of every escalation and reads it once per group
of subscribers that must see the same thing, under that group's claims, so row-level security
decides whether a subscriber sees the alert: no tenant, facility or scope ever receives
another's. A subscriber's token expiry is checked in memory before each alert and every
`subscription_recheck_seconds`; a revoked partner token is learnt by NOTIFY. Either closes the
socket (4401). A subscriber whose queue of pending alerts fills up is closed too (4008), rather
than silently dropping clinical alerts; its client reconnects and resumes with `after:` (the
last alert it saw), receiving what it missed before anything new.

A connection_init whose token does not hold counts against the same per-address allowance of
failed credentials as HTTP (server/ratelimit.py), checked before the token is looked up: an
address over it is refused (4403) without costing the database anything.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from wardgraph.db.session import claimed_transaction
from wardgraph.server.alert_hub import (
    CLOSE_TOKEN_INVALID,
    CLOSE_TOO_SLOW,
    CLOSE_UNAVAILABLE,
    AlertHub,
    Subscriber,
)
from wardgraph.server.errors import format_error
from wardgraph.server.metrics import Metrics
from wardgraph.server.ratelimit import RateLimited, RateLimiter, address_key

log = logging.getLogger("wardgraph.subscriptions")

__all__ = ["AlertHub", "LiveTransport", "SubscriptionContext", "authenticate_connection"]

# At most this many missed alerts are sent to a subscriber that resumes; one that missed more
# reads the rest over HTTP.
RESUME_LIMIT = 1000


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
        self, claims: Claims, ward_id: UUID | None, after: UUID | None = None
    ) -> AsyncGenerator[asyncpg.Record, None]:
        live = live_context(self)
        assert live.hub is not None
        await live.hub.ready()
        subscriber = Subscriber(claims, ward_id, self.request_id,
                                self.settings.limits.subscription_queue_size,
                                token_hash=self._partner_token_hash(claims))
        # Joined before the missed alerts are read: an alert raised meanwhile is queued, and
        # skipped if the read already had it.
        live.hub.subscribe(subscriber)
        try:
            missed = [] if after is None else await missed_alerts(live, subscriber, after)
        except BaseException:
            live.hub.unsubscribe(subscriber)
            raise
        return alert_rows(live, subscriber, missed)

    def _partner_token_hash(self, claims: Claims) -> bytes | None:
        if claims.is_partner and self.token and is_partner_token(self.token):
            return partner_token_hash(self.token)
        return None


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


async def missed_alerts(context: SubscriptionContext, subscriber: Subscriber,
                        after: UUID) -> list[asyncpg.Record]:
    """What the subscriber missed since `after`, read under its own claims and audited as
    disclosed to it; NOT_FOUND when it may not see `after` (or it does not exist)."""
    settings, claims = context.settings, subscriber.claims
    async with context.state.pool.acquire(
        timeout=settings.pool_timeout_seconds
    ) as connection, claimed_transaction(
        connection, claims, context.request_id, settings.limits.statement_timeout_ms,
        settings.claims_mode,
    ) as session:
        rows = await db.fetch_alerts_after(session, claims.tenant_id, after, RESUME_LIMIT)
        if rows is None:
            raise errors.not_found()
        now = datetime.now(UTC)
        rows = [row for row in rows if subscriber.wants(row, now)]
        for row in rows:
            await db.record_alert_disclosures(session, row, [claims.user_id],
                                              [claims.partner_token_id],
                                              [context.request_id], now)
        return rows


async def alert_rows(context: SubscriptionContext, subscriber: Subscriber,
                     missed: list[asyncpg.Record]) -> AsyncGenerator[asyncpg.Record, None]:
    """The alerts this subscriber may see: those it missed, then each as it is raised, until
    the socket closes."""
    assert context.hub is not None and context.metrics is not None
    hub, metrics, settings = context.hub, context.metrics, context.settings
    metrics.subscriptions_open.inc()
    sent: set[UUID] = set()
    try:
        for row in missed:
            sent.add(row["id"])
            metrics.alert_deliveries.inc()
            yield row
        while True:
            row = await subscriber.next(settings.subscription_recheck_seconds)
            if subscriber.overflowed:
                metrics.slow_subscribers.inc()
                await _close(context, CLOSE_TOO_SLOW, "Too slow: the alert queue overflowed")
            if subscriber.revoked or subscriber.expired(datetime.now(UTC)):
                await _close(context, CLOSE_TOKEN_INVALID, "Token expired or revoked")
            if subscriber.failed:
                log.warning("alert read failed; closing the subscription")
                await _close(context, CLOSE_UNAVAILABLE, "Database unavailable; reconnect")
            if row is None or row["id"] in sent:
                continue
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
