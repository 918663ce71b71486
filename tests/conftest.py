"""Fixtures: one real PostgreSQL and one live server per test session."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.factories import TenantKit, make_tenant
from tests.harness import (
    Api,
    DatabaseUnderTest,
    LiveServer,
    _with_database,
    open_database_under_test,
    settings_for_tests,
)
from wardgraph.config import Limits

# The README's deployment commands need a PostgreSQL server's binaries to make an empty
# cluster; .ci/run names Debian's PostgreSQL 15 and runs that file on its own.
collect_ignore = ([] if os.environ.get("WARDGRAPH_README_POSTGRES_BIN")
                  else ["test_readme_on_postgres.py"])


@pytest.fixture(scope="session")
async def database() -> AsyncIterator[DatabaseUnderTest]:
    db = await open_database_under_test()
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture(scope="session")
async def live_server(database: DatabaseUnderTest) -> AsyncIterator[LiveServer]:
    # The session's server serves every test file from a handful of tokens: its rate limit is
    # high (tests/test_limits.py proves the limit on servers of its own).
    server = LiveServer(settings_for_tests(limits=Limits(rate_limit_per_minute=1_000_000)),
                        database.api_url)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(scope="session")
async def api(live_server: LiveServer) -> AsyncIterator[Api]:
    client = Api(live_server.url)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def tenant(api: Api, database: DatabaseUnderTest) -> TenantKit:
    """A fresh tenant with one facility (DHK, Asia/Dhaka)."""
    kit = await make_tenant(api, database.admin_url)
    await kit.facility("DHK", "Asia/Dhaka")
    return kit


@pytest.fixture
async def other_tenant(api: Api, database: DatabaseUnderTest) -> TenantKit:
    kit = await make_tenant(api, database.admin_url)
    await kit.facility("DHK", "Asia/Dhaka")
    return kit


@pytest.fixture
async def pool(database: DatabaseUnderTest) -> AsyncIterator[asyncpg.Pool]:
    """The API role's pool, for documents run in-process (tests/in_process.py)."""
    pool = await asyncpg.create_pool(database.api_url, min_size=1, max_size=2)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
async def scratch_url(database: DatabaseUnderTest) -> AsyncIterator[str]:
    """An empty database of its own on the test server (never the shared one)."""
    name = f"wardgraph_scratch_{secrets.token_hex(4)}"
    connection = await asyncpg.connect(database.admin_url)
    try:
        await connection.execute(f'create database "{name}"')
        yield _with_database(database.admin_url, name)
        await connection.execute(f'drop database "{name}" with (force)')
    finally:
        await connection.close()
