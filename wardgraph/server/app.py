"""The Starlette app: /graphql (+ GraphiQL and subscriptions), /fhir, /healthz, /readyz,
/metrics and the ward board's static page at /board."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UnsetType

from wardgraph.auth.authenticate import authenticate
from wardgraph.config import Settings
from wardgraph.context import AppState, RequestContext, new_request_id
from wardgraph.db.pool import create_pool
from wardgraph.pipeline import ordered_extensions
from wardgraph.pipeline.limits import BodySizeLimit
from wardgraph.pipeline.persisted import PersistedQueryStore
from wardgraph.schema import build_schema
from wardgraph.server.board_page import BoardFiles
from wardgraph.server.errors import format_error
from wardgraph.server.fhir.routes import fhir_routes
from wardgraph.server.gate import admit
from wardgraph.server.live import (
    AlertHub,
    LiveTransport,
    SubscriptionContext,
    authenticate_connection,
)
from wardgraph.server.metrics import (
    CODE_KEY,
    PLAN_FALLBACK_KEY,
    REQUEST_ID_KEY,
    LabelOperation,
    Metrics,
    ObserveRequests,
    metrics_endpoint,
)
from wardgraph.server.ratelimit import RateLimited, RateLimiter, address_key
from wardgraph.server.shared_ratelimit import SharedRateLimiter
from wardgraph.server.transport import (
    BAD_REQUEST,
    GRAPHQL_RESPONSE_JSON,
    JSON,
    HttpRefusal,
    decode_request_json,
    encode_response,
    is_request_error,
    negotiate,
    parsing_refusal,
    refusal_response,
    request_error_status,
    require_json_object,
)

READY_TIMEOUT_SECONDS = 2.0
SUB_RESPONSE_KEY = "wardgraph.sub_response"


@dataclass
class Services:
    """What one app holds beside the pool: metrics, the alert listener, the persisted-query
    store and the rate limiters: one per caller, shared by every API process in PostgreSQL, and
    one for failed credentials per client address, in this process (it acts before any lookup)."""

    metrics: Metrics
    hub: AlertHub
    persisted: PersistedQueryStore
    limiter: SharedRateLimiter
    # Credentials that did not hold, per client address.
    failed_auth: RateLimiter


class NegotiatedResponse(Response):
    """The sub-response strawberry fills in, carrying the media type the client accepts."""

    media_type = JSON


# A dashboard allocates tens of thousands of short-lived objects (rows, typed objects, the
# answer's dicts), almost none in cycles. At the default 700 allocations per young collection
# the collector ran dozens of times per request and took about a fifth of the server's CPU;
# collecting ten times less often costs a few megabytes of garbage awaiting collection.
COLLECTOR_THRESHOLDS = (7_000, 10, 10)


def extensions_for(settings: Settings,
                   persisted: PersistedQueryStore) -> list[Any]:
    """The pipeline's ordered extensions (wardgraph/pipeline says why that order), with the
    server's observers in their place."""
    return ordered_extensions(persisted, production=settings.production,
                              observers=(LabelOperation, LiveTransport))


class GraphQLApp(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with wardgraph's context, limits, error formatting and
    GraphQL-over-HTTP negotiation."""

    def __init__(self, state: AppState, services: Services) -> None:
        settings = state.settings
        super().__init__(
            build_schema(*extensions_for(settings, services.persisted)),
            graphql_ide=None if settings.production else "graphiql",
            allowed_origins=settings.cors_origins,
        )
        self.state = state
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HttpRefusal as refusal:
            response = refusal_response(refusal, self._media_type(request))
        except RateLimited as limited:
            scope[CODE_KEY] = "RATE_LIMITED"
            response = refusal_response(HttpRefusal(
                429, "RATE_LIMITED", "Too many requests; try again later",
                {"Retry-After": str(limited.retry_after)}), self._media_type(request))
        except HTTPException as error:
            response = refusal_response(parsing_refusal(error.status_code, error.reason),
                                        self._media_type(request))
        await response(scope, receive, send)

    @staticmethod
    def _media_type(request: Request) -> str:
        sub_response = request.scope.get(SUB_RESPONSE_KEY)
        if isinstance(sub_response, Response) and sub_response.media_type:
            return sub_response.media_type
        return JSON

    # -- the request -----------------------------------------------------------------------------

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        response = NegotiatedResponse()
        response.status_code = None  # type: ignore[assignment]
        del response.headers["content-length"]
        request.scope[SUB_RESPONSE_KEY] = response
        media_type = negotiate(request.headers.get("accept"))
        if media_type is None:
            if not self._wants_ide(request):
                raise HttpRefusal(406, BAD_REQUEST, "Accept application/graphql-response+json "
                                  "or application/json")
            media_type = JSON
        response.media_type = media_type
        return response

    def _wants_ide(self, request: Request | WebSocket) -> bool:
        return (request.scope.get("method") == "GET" and "query" not in request.query_params
                and "text/html" in request.headers.get("accept", ""))

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET carrying only a persisted query's hash is a query, not a page load.
        return super().should_render_graphql_ide(request) and (
            request.query_params.get("extensions") is None)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        request_id = str(request.scope.get(REQUEST_ID_KEY) or new_request_id())
        if isinstance(request, WebSocket):
            live = SubscriptionContext(
                state=self.state, request=request, response=response, request_id=request_id,
                hub=self.services.hub, metrics=self.services.metrics,
                failed_auth=self.services.failed_auth)
            authorization = request.headers.get("authorization")
            if authorization and not self._over_failure_allowance(request):
                await authenticate(live, authorization)
            return live
        context = RequestContext(state=self.state, request=request, response=response,
                                 request_id=request_id)
        await admit(context, request, self.services.failed_auth, self.services.limiter)
        return context

    def _over_failure_allowance(self, request: WebSocket) -> bool:
        """Whether the address has used up its failed credentials: then the upgrade's header
        is not looked up, and connection_init refuses the socket (server/live.py)."""
        try:
            self.services.failed_auth.require_one(address_key(request.client))
        except RateLimited:
            return True
        return False

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:
        assert isinstance(context, SubscriptionContext)
        await authenticate_connection(context)
        return await super().on_ws_connect(context)

    def decode_json(self, data: str | bytes) -> object:
        return decode_request_json(data)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        if request.method != "GET" and "json" in (request.content_type or ""):
            require_json_object(await request.get_body())
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and not isinstance(
                data.operation_name, str | None):
            raise HttpRefusal(400, BAD_REQUEST, "operationName must be a string or null")
        return data

    async def execute_single(
        self, request: Request, request_adapter: AsyncHTTPRequestAdapter, sub_response: Response,
        context: RequestContext, root_value: None, request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data)
        except HTTPException as error:
            if (isinstance(error.__cause__, InvalidOperationTypeError)
                    and request_adapter.method == "GET"):
                raise HttpRefusal(405, BAD_REQUEST, "A mutation cannot be sent with GET; use "
                                  "POST", {"Allow": "POST"}) from error
            raise
        finally:
            # For the metrics middleware, which counts why a query was not planned.
            request.scope[PLAN_FALLBACK_KEY] = context.plan_fallback

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        request_id = request.scope.get(REQUEST_ID_KEY, "")
        formatted = [format_error(e, request_id) for e in result.errors or ()]
        codes = [e.get("extensions", {}).get("code", "INTERNAL") for e in formatted]
        request.scope[CODE_KEY] = codes[0] if codes else "OK"
        response: dict[str, Any] = {}
        if is_request_error(result.data, result.errors):
            # Nothing executed, so there is no data entry at all (GraphQL spec, "Response").
            sub_response = request.scope.get(SUB_RESPONSE_KEY)
            if isinstance(sub_response, Response) and (
                    sub_response.media_type == GRAPHQL_RESPONSE_JSON):
                sub_response.status_code = request_error_status(codes)
        else:
            response["data"] = result.data
        if formatted:
            response["errors"] = formatted
        if result.extensions:
            response["extensions"] = result.extensions
        return response  # type: ignore[return-value]

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        response = Response(
            encode_response(response_data),
            status_code=sub_response.status_code or 200,
            media_type=sub_response.media_type or JSON,
        )
        response.headers.raw.extend(
            (name, value) for name, value in sub_response.headers.raw
            if name.lower() != b"content-type")
        return response


class GraphQLEndpoint:
    """The ASGI endpoint of /graphql; its view is built when the pool exists (lifespan)."""

    view: GraphQLApp | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.view is not None, "the app's lifespan has not started"
        await self.view(scope, receive, send)


async def healthz(_: Request) -> Response:
    """The process is up."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """The database answers."""
    pool: asyncpg.Pool = request.app.state.wardgraph.pool
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with pool.acquire() as connection:
                await connection.fetchval("select 1")
    except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ready"})


def middleware_for(settings: Settings, metrics: Metrics) -> list[Middleware]:
    """Outermost first: the request id and its log line, CORS, then the body limit."""
    stack = [Middleware(ObserveRequests, metrics=metrics)]
    if settings.cors_origins:
        stack.append(Middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "accept", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"], max_age=600))
    stack.append(Middleware(BodySizeLimit, max_bytes=settings.limits.max_body_bytes))
    return stack


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The app for a database reached as the API's login role (wg_api)."""
    settings = settings.require_secret()
    endpoint = GraphQLEndpoint()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await create_pool(settings, database_url)
        state = AppState(settings=settings, pool=pool)
        metrics.watch_pool(pool)
        services = Services(
            metrics=metrics,
            # LISTEN holds its server connection: never through a transaction pooler.
            hub=AlertHub(settings.listen_database_url or database_url,
                         settings.pool_timeout_seconds, metrics, pool,
                         settings.limits.statement_timeout_ms, settings.claims_mode),
            persisted=PersistedQueryStore(pool, settings.persisted_queries,
                                          settings.pool_timeout_seconds),
            limiter=SharedRateLimiter(pool, settings.limits.rate_limit_per_minute,
                                      settings.pool_timeout_seconds),
            failed_auth=RateLimiter(settings.limits.auth_failures_per_minute),
        )
        app.state.wardgraph = state
        app.state.services = services
        endpoint.view = GraphQLApp(state, services)
        # The schema, the app and the modules live as long as the process: frozen out of the
        # collector's sight, a full collection no longer walks their hundreds of thousands of
        # objects (those pauses made the ward dashboard's p99 70 ms at one client; now ~30).
        gc.collect()
        gc.freeze()
        gc.set_threshold(*COLLECTOR_THRESHOLDS)
        try:
            yield
        finally:
            await services.hub.close()
            await pool.close()

    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint(metrics)),
            *fhir_routes(),
            # Static files only: the page reads everything through /graphql with the user's token.
            Mount("/board", BoardFiles(), name="board"),
        ],
        middleware=middleware_for(settings, metrics),
        lifespan=lifespan,
    )

