"""Prometheus metrics at /metrics, and the middleware that observes every request.

Each app has its own registry (tests run several apps in one process). Operation names come
from clients, so the label takes at most MAX_OPERATIONS distinct names; the rest count as
"other" rather than growing the series without bound.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from wardgraph.context import RequestContext
from wardgraph.server.log import operation_var, request_id_var

log = logging.getLogger("wardgraph.requests")

# The *_created series (when each counter was first used) double what is scraped for nothing.
disable_created_metrics()  # type: ignore[no-untyped-call]

MAX_OPERATIONS = 200
_OPERATION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

# What the GraphQL view leaves in the ASGI scope for the middleware to log and count.
REQUEST_ID_KEY = "wardgraph.request_id"
OPERATION_KEY = "wardgraph.operation"
CODE_KEY = "wardgraph.code"
PLAN_FALLBACK_KEY = "wardgraph.plan_fallback"
GRAPHQL_PATH = "/graphql"


class Metrics:
    """The app's series: requests by operation and code, latency, pool use, open subscriptions."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "wardgraph_graphql_requests", "GraphQL requests by operation and result code.",
            ["operation", "code"], registry=self.registry)
        self.latency = Histogram(
            "wardgraph_graphql_request_duration_seconds",
            "Time to answer a GraphQL request, by operation.", ["operation"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry)
        self.pool_in_use = Gauge(
            "wardgraph_db_pool_connections_in_use",
            "Connections of the API's pool lent to a request right now.", registry=self.registry)
        self.pool_size = Gauge(
            "wardgraph_db_pool_connections", "Connections the API's pool holds open.",
            registry=self.registry)
        self.subscriptions_open = Gauge(
            "wardgraph_subscriptions_open", "news2Alerts subscriptions being served.",
            registry=self.registry)
        self.alert_listener_up = Gauge(
            "wardgraph_alert_listener_up",
            "1 while the LISTEN connection for escalations is connected.", registry=self.registry)
        self.alert_deliveries = Counter(
            "wardgraph_alerts_delivered", "NEWS2 alerts sent to subscribers.",
            registry=self.registry)
        self.alerts_replayed = Counter(
            "wardgraph_alerts_replayed",
            "Escalations raised while the alert listener was reconnecting, delivered after.",
            registry=self.registry)
        self.alert_group_reads = Counter(
            "wardgraph_alert_group_reads",
            "Reads of escalations for a group of subscribers with alike claims.",
            registry=self.registry)
        self.slow_subscribers = Counter(
            "wardgraph_slow_subscribers_closed",
            "Subscriptions closed because the client fell a full queue behind.",
            registry=self.registry)
        # Queries the general executor answered although a plan is the fast path: the reasons
        # are the planner's own (a bounded set: its checks, and the schema's names).
        self.plan_fallbacks = Counter(
            "wardgraph_planned_query_fallbacks",
            "Queries answered by graphql-core's executor instead of their plan, by reason.",
            ["reason"], registry=self.registry)
        self._operations: set[str] = set()

    def watch_pool(self, pool: asyncpg.Pool) -> None:
        self.pool_size.set_function(lambda: float(pool.get_size()))
        self.pool_in_use.set_function(lambda: float(pool.get_size() - pool.get_idle_size()))

    def operation_label(self, name: str | None) -> str:
        if not name:
            return "anonymous"
        if not _OPERATION_NAME.match(name):
            return "other"
        if name not in self._operations:
            if len(self._operations) >= MAX_OPERATIONS:
                return "other"
            self._operations.add(name)
        return name

    def observe(self, operation: str | None, code: str, seconds: float) -> None:
        label = self.operation_label(operation)
        self.requests.labels(label, code).inc()
        self.latency.labels(label).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LabelOperation(SchemaExtension):
    """Names the request's operation, once parsed, for its log lines and its metrics."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        context = ctx.context
        if ctx.graphql_document is not None and isinstance(context, RequestContext):
            try:
                name = ctx.operation_name
            except RuntimeError:
                name = None
            operation_var.set(name)
            if context.request is not None and name is not None:
                context.request.scope[OPERATION_KEY] = name
        yield


def metrics_endpoint(metrics: Metrics) -> Callable[[Request], Any]:
    async def endpoint(_: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return endpoint


def code_for_status(status: int) -> str:
    """The code of a response the GraphQL view did not label (a refusal before execution)."""
    if status < 400:
        return "OK"
    return {413: "QUERY_TOO_COMPLEX", 429: "RATE_LIMITED", 503: "SERVICE_UNAVAILABLE"}.get(
        status, "INTERNAL" if status >= 500 else "BAD_REQUEST")


class ObserveRequests:
    """Outermost middleware: gives each request its id (context variable, scope and the
    X-Request-Id header), then logs one line and counts it once the response is sent."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        scope[REQUEST_ID_KEY] = request_id
        request_token = request_id_var.set(request_id)
        operation_token = operation_var.set(None)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if scope["type"] == "http" and scope["path"] == GRAPHQL_PATH:
                self._record(scope, status, time.perf_counter() - started)
            request_id_var.reset(request_token)
            operation_var.reset(operation_token)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        operation = scope.get(OPERATION_KEY)
        code = scope.get(CODE_KEY) or code_for_status(status)
        self.metrics.observe(operation, code, seconds)
        fallback = scope.get(PLAN_FALLBACK_KEY)
        if fallback:
            self.metrics.plan_fallbacks.labels(fallback).inc()
        log.info("graphql request", extra={
            "operation": operation, "code": code, "duration_ms": round(seconds * 1000, 2),
            "status": status, "method": scope["method"]})
