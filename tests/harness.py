"""The test database and server: a real PostgreSQL (embedded by default, or the server named by
WARDGRAPH_TEST_DATABASE_URL) and the real app served by uvicorn on a loopback port."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import uvicorn

from wardgraph.config import Limits, Settings
from wardgraph.db.embedded import THROWAWAY_SETTINGS, EmbeddedPostgres
from wardgraph.migrations import runner
from wardgraph.server.app import create_app

TEST_SECRET = "test-secret-" + "x" * 40


@dataclass
class DatabaseUnderTest:
    admin_url: str
    api_url: str
    server: EmbeddedPostgres | None = None
    database: str | None = None  # dropped at the end when we created it on a shared server
    maintenance_url: str | None = None

    async def close(self) -> None:
        if self.server is not None:
            self.server.stop()
        elif self.database and self.maintenance_url:
            connection = await asyncpg.connect(self.maintenance_url)
            try:
                await connection.execute(f'drop database if exists "{self.database}" with (force)')
            finally:
                await connection.close()


def _with_database(url: str, database: str, user: str | None = None,
                   password: str | None = None) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if user is not None:
        host = netloc.rpartition("@")[2]
        netloc = f"{user}:{password}@{host}" if password else f"{user}@{host}"
    return urlunsplit((parts.scheme, netloc, "/" + database, parts.query, parts.fragment))


def start_embedded_for_tests() -> EmbeddedPostgres:
    """A throwaway embedded server in a folder under /tmp (reachable by its service user)."""
    folder = Path(tempfile.mkdtemp(prefix="wardgraph-test-", dir="/tmp"))
    folder.chmod(0o755)
    server = EmbeddedPostgres(folder / "pg", settings=THROWAWAY_SETTINGS)
    server.start()
    server.ensure_database()
    runner.upgrade(server.url())
    return server


async def open_database_under_test() -> DatabaseUnderTest:
    external = os.environ.get("WARDGRAPH_TEST_DATABASE_URL")
    if not external:
        server = await asyncio.to_thread(start_embedded_for_tests)
        return DatabaseUnderTest(server.url(), server.url(user="wg_api"), server=server)
    # A superuser URL of a server we share: a fresh database per run, and a password for the
    # API's login role (roles are cluster-wide).
    name = f"wardgraph_test_{os.getpid()}_{secrets.token_hex(3)}"
    connection = await asyncpg.connect(external)
    try:
        await connection.execute(f'create database "{name}"')
    finally:
        await connection.close()
    admin_url = _with_database(external, name)
    await asyncio.to_thread(runner.upgrade, admin_url)
    password = secrets.token_hex(16)
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f"alter role wg_api password '{password}'")
    finally:
        await connection.close()
    api_url = _with_database(external, name, user="wg_api", password=password)
    return DatabaseUnderTest(admin_url, api_url, database=name, maintenance_url=external)


def settings_for_tests(**overrides: Any) -> Settings:
    # The whole suite sends its bad credentials from one address; the limit on them has tests
    # of its own.
    base = Settings(env="development", jwt_secret=TEST_SECRET, pool_min_size=1,
                    pool_max_size=60, data_dir=Path(tempfile.gettempdir()),
                    limits=Limits(auth_failures_per_minute=100_000))
    return base.with_overrides(**overrides)


class LiveServer:
    """The app under uvicorn in this event loop, reachable over real HTTP."""

    def __init__(self, settings: Settings, api_url: str) -> None:
        self.app = create_app(settings, api_url)
        self.server = uvicorn.Server(uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
            timeout_graceful_shutdown=5, timeout_keep_alive=120))
        self.task: asyncio.Task[None] | None = None
        self.url = ""

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started:
            if self.task.done():
                self.task.result()
            await asyncio.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self.server.should_exit = True
        if self.task is not None:
            await self.task


class Api:
    """GraphQL over HTTP against the live server."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.client = httpx.AsyncClient(base_url=base_url, timeout=60,
                                        limits=httpx.Limits(max_connections=200))

    async def post(self, query: str, variables: dict[str, Any] | None = None,
                   token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", {}))
        return await self.client.post("/graphql", json={"query": query,
                                                        "variables": variables or {}},
                                      headers=headers, **kwargs)

    async def gql(self, query: str, variables: dict[str, Any] | None = None,
                  token: str | None = None) -> dict[str, Any]:
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None,
                   token: str | None = None) -> dict[str, Any]:
        """The data of a request that must succeed without errors."""
        body = await self.gql(query, variables, token)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def error_code(self, query: str, variables: dict[str, Any] | None = None,
                         token: str | None = None) -> str:
        body = await self.gql(query, variables, token)
        assert body.get("errors"), body
        code: str = body["errors"][0]["extensions"]["code"]
        return code

    async def close(self) -> None:
        await self.client.aclose()
