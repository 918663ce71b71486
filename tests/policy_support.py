"""Helpers for the policy audit tests: scratch databases (never the session's shared one) and
the `wardgraph` command run in a subprocess against a given database."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from wardgraph.migrations import runner
from wardgraph.ops.policy_tools.connection import connect, scratch_database

SCRATCH_PREFIX = "wardgraph_policy_test_"


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


async def run_cli(*args: str, admin_url: str | None = None,
                  api_url: str | None = None) -> CliResult:
    """`wardgraph ARGS` in a subprocess, configured for the given database (so it never starts
    an embedded server of its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDGRAPH_")}
    if admin_url is not None:
        env["WARDGRAPH_ADMIN_DATABASE_URL"] = admin_url
        env["WARDGRAPH_DATABASE_URL"] = api_url or admin_url
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wardgraph.ops.cli", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return CliResult(process.returncode, stdout.decode(), stderr.decode())


@asynccontextmanager
async def empty_database(admin_url: str) -> AsyncIterator[str]:
    """A new empty database on the test server, dropped afterwards."""
    async with scratch_database(admin_url, SCRATCH_PREFIX) as url:
        yield url


@asynccontextmanager
async def migrated_database(admin_url: str) -> AsyncIterator[str]:
    """A new database migrated to head (migrations and policy files), dropped afterwards."""
    async with empty_database(admin_url) as url:
        await asyncio.to_thread(runner.upgrade, url)
        yield url


@asynccontextmanager
async def rolled_back(url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside a transaction that is always rolled back: a test changes the
    catalog, looks, and leaves the database as it found it."""
    connection = await connect(url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()
