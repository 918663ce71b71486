"""The Starlette app: /graphql (+ GraphiQL), /healthz, /readyz."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.types import ExecutionResult

from wardgraph.authenticate import authenticate
from wardgraph.config import Settings
from wardgraph.context import AppState, RequestContext
from wardgraph.db.pool import create_pool
from wardgraph.graphql_errors import format_error
from wardgraph.lifecycle import TransactionPerOperation
from wardgraph.schema import build_schema

READY_TIMEOUT_SECONDS = 2.0


class GraphQLApp(GraphQL[RequestContext, None]):
    """Strawberry's ASGI view with wardgraph's context and error formatting."""

    def __init__(self, state: AppState) -> None:
        super().__init__(
            build_schema(TransactionPerOperation),
            graphql_ide=None if state.settings.production else "graphiql",
        )
        self.state = state

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        context = RequestContext(state=self.state, request=request, response=response)
        request.scope["wardgraph.request_id"] = context.request_id
        if isinstance(response, Response):
            response.headers["X-Request-Id"] = context.request_id
        await authenticate(context, request.headers.get("authorization"))
        return context

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        request_id = request.scope.get("wardgraph.request_id", "")
        response: dict[str, Any] = {"data": result.data}
        if result.errors:
            response["errors"] = [format_error(e, request_id) for e in result.errors]
        if result.extensions:
            response["extensions"] = result.extensions
        return response  # type: ignore[return-value]


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


def create_app(settings: Settings, database_url: str) -> Starlette:
    """The app for a database reached as the API's login role (wg_api)."""
    settings = settings.require_secret()
    endpoint = GraphQLEndpoint()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool = await create_pool(settings, database_url)
        state = AppState(settings=settings, pool=pool)
        app.state.wardgraph = state
        endpoint.view = GraphQLApp(state)
        try:
            yield
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", endpoint),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
