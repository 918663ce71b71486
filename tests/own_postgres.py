"""A PostgreSQL server as a hospital's DBA runs one: passwords checked (SCRAM), nothing
created but its superuser; and the `wardgraph` command run against it as a process."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tests.harness import TEST_SECRET, _with_database
from wardgraph.db.embedded import THROWAWAY_SETTINGS, EmbeddedPostgres

# Only the superuser, over the local socket, logs in without a password: it stands for the
# DBA's own access. Every role wardgraph uses proves its password.
PASSWORD_HBA = """local all postgres trust
local all all scram-sha-256
"""


def start_password_server() -> EmbeddedPostgres:
    """Stop it with stop_password_server()."""
    folder = Path(tempfile.mkdtemp(prefix="wardgraph-own-", dir="/tmp"))
    folder.chmod(0o755)
    server = EmbeddedPostgres(folder / "pg", settings=THROWAWAY_SETTINGS)
    server.init()
    (server.pgdata / "pg_hba.conf").write_text(PASSWORD_HBA, encoding="utf-8")
    server.start()
    return server


def stop_password_server(server: EmbeddedPostgres) -> None:
    server.stop()
    shutil.rmtree(server.pgdata.parent, ignore_errors=True)


async def run_sql(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


@dataclass
class Deployment:
    """A migration role that is not a superuser, its database, and wg_api's URL."""

    superuser_url: str  # on the deployment's database
    admin_url: str
    api_url: str
    migrator: str
    database: str


async def make_deployment(server_superuser_url: str, api_password: str) -> Deployment:
    """What the DBA does once: a role with CREATEROLE and BYPASSRLS that owns a database."""
    tag = secrets.token_hex(4)
    migrator, database = f"wardgraph_migrator_{tag}", f"wardgraph_{tag}"
    password = secrets.token_urlsafe(16)
    await run_sql(server_superuser_url,
                  f"create role {migrator} login createrole bypassrls password '{password}'",
                  f'create database "{database}" owner {migrator}')
    return Deployment(
        superuser_url=_with_database(server_superuser_url, database),
        admin_url=_with_database(server_superuser_url, database, user=migrator,
                                 password=password),
        api_url=_with_database(server_superuser_url, database, user="wg_api",
                               password=api_password),
        migrator=migrator, database=database)


async def another_database(server_superuser_url: str, deployment: Deployment) -> Deployment:
    """A second database of the same migration role (a staging copy, say)."""
    database = f"{deployment.database}_{secrets.token_hex(2)}"
    await run_sql(server_superuser_url, f'create database "{database}" owner {deployment.migrator}')
    return Deployment(
        superuser_url=_with_database(deployment.superuser_url, database),
        admin_url=_with_database(deployment.admin_url, database),
        api_url=_with_database(deployment.api_url, database),
        migrator=deployment.migrator, database=database)


def wardgraph_cli(*args: str, admin_url: str | None = None, api_url: str | None = None,
                  extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`wardgraph ARGS` as a process with only the URLs given configured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDGRAPH_")}
    env["WARDGRAPH_JWT_SECRET"] = TEST_SECRET
    if admin_url:
        env["WARDGRAPH_ADMIN_DATABASE_URL"] = admin_url
    if api_url:
        env["WARDGRAPH_DATABASE_URL"] = api_url
    env.update(extra or {})
    return subprocess.run([sys.executable, "-m", "wardgraph.ops.cli", *args], capture_output=True,
                          text=True, env=env, timeout=120, check=False)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's stderr, asserted to be one line and no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]
