"""wardgraph on a PostgreSQL of the hospital's own: a migration role that is not a superuser,
wg_api's password from its URL, and start-up errors of one line. The server checks passwords,
and starts empty (tests/own_postgres.py), as a DBA's does."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from tests.harness import TEST_SECRET, _with_database
from tests.own_postgres import (
    Deployment,
    another_database,
    make_deployment,
    one_line_error,
    run_sql,
    start_password_server,
    stop_password_server,
    wardgraph_cli,
)
from wardgraph.db.embedded import EmbeddedPostgres
from wardgraph.migrations import runner
from wardgraph.migrations.stamp import code_head

API_PASSWORD = secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedPostgres]:
    server = start_password_server()
    try:
        yield server
    finally:
        stop_password_server(server)


@pytest.fixture(scope="module")
async def fresh(server: EmbeddedPostgres) -> AsyncIterator[Deployment]:
    """The DBA's part done, nothing migrated yet."""
    yield await make_deployment(server.url(database="postgres"), API_PASSWORD)


@pytest.fixture(scope="module")
def first_migration(fresh: Deployment) -> subprocess.CompletedProcess[str]:
    """`wardgraph migrate` by a role that is not a superuser, on the empty server."""
    return wardgraph_cli("migrate", admin_url=fresh.admin_url, api_url=fresh.api_url)


@pytest.fixture
def deployment(fresh: Deployment, first_migration: subprocess.CompletedProcess[str]
               ) -> Deployment:
    assert first_migration.returncode == 0, first_migration.stderr
    return fresh


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_migration_role_without_superuser_migrates_an_empty_server(
    deployment: Deployment, first_migration: subprocess.CompletedProcess[str]
) -> None:
    assert "wg_api's password is set from WARDGRAPH_DATABASE_URL" in first_migration.stdout
    # The server checks passwords: wg_api logs in with the one from its URL.
    connection = await asyncpg.connect(deployment.api_url)
    await connection.close()
    rows = await asyncpg.connect(deployment.superuser_url)
    try:
        superuser = await rows.fetchval(
            "select rolsuper from pg_roles where rolname = $1", deployment.migrator)
        owner = await rows.fetchval(
            "select pg_get_userbyid(proowner) from pg_proc where proname = 'login_lookup'")
    finally:
        await rows.close()
    assert superuser is False
    assert owner == "wg_authenticator"


async def test_migration_role_without_superuser_reapplies_changed_policies(
    deployment: Deployment
) -> None:
    # As after a release whose policy files changed: every function is replaced again.
    await run_sql(deployment.superuser_url, "comment on schema app is 'an older release'")
    again = wardgraph_cli("migrate", admin_url=deployment.admin_url)
    assert again.returncode == 0, again.stderr
    check = wardgraph_cli("migrate", "--check", api_url=deployment.api_url)
    assert check.returncode == 0, check.stderr
    assert f"up to date ({code_head()})" in check.stdout


def test_production_serve_answers_with_a_token_from_the_cli(deployment: Deployment) -> None:
    slug = f"own-{secrets.token_hex(3)}"
    for args in (("tenant", "create", slug, "--name", "Own Hospital"),
                 ("user", "create", "--tenant", slug, "--email", "dba@own.example",
                  "--role", "admin")):
        created = wardgraph_cli(*args, admin_url=deployment.admin_url)
        assert created.returncode == 0, created.stderr
    token = wardgraph_cli("token", "issue", "--tenant", slug, "--email", "dba@own.example",
                          admin_url=deployment.admin_url, extra={"WARDGRAPH_ENV": "production"})
    assert token.returncode == 0, token.stderr
    port = free_port()
    # The API holds wg_api's URL only: no migration rights in the serving process.
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARDGRAPH_")}
    env.update({"WARDGRAPH_ENV": "production", "WARDGRAPH_JWT_SECRET": TEST_SECRET,
                "WARDGRAPH_DATABASE_URL": deployment.api_url, "WARDGRAPH_PORT": str(port)})
    process = subprocess.Popen([sys.executable, "-m", "wardgraph.ops.cli", "serve"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline
            time.sleep(0.2)
        response = httpx.post(f"http://127.0.0.1:{port}/graphql",
                              json={"query": "{ viewer { role tenant { slug } } }"},
                              headers={"Authorization": f"Bearer {token.stdout.strip()}"})
        assert response.json()["data"]["viewer"] == {"role": "ADMIN", "tenant": {"slug": slug}}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_wrong_wg_api_password_names_the_setting_and_migrate(deployment: Deployment) -> None:
    wrong = _with_database(deployment.api_url, deployment.database, user="wg_api",
                           password="not-the-password")
    line = one_line_error(wardgraph_cli("serve", api_url=wrong))
    assert "WARDGRAPH_DATABASE_URL" in line and "refused the password" in line
    assert "wardgraph migrate" in line and "not-the-password" not in line


def test_unreachable_host_names_host_port_and_setting() -> None:
    port = free_port()
    line = one_line_error(wardgraph_cli(
        "serve", api_url=f"postgresql://wg_api:x@127.0.0.1:{port}/wardgraph"))
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}" in line
    assert "WARDGRAPH_DATABASE_URL" in line


def test_missing_database_is_named(deployment: Deployment) -> None:
    missing = _with_database(deployment.api_url, "no_such_database", user="wg_api",
                             password=API_PASSWORD)
    line = one_line_error(wardgraph_cli("serve", api_url=missing))
    assert "has no database 'no_such_database'" in line and "WARDGRAPH_DATABASE_URL" in line


async def test_login_role_without_the_request_roles_is_refused(deployment: Deployment) -> None:
    plain = f"plain_{secrets.token_hex(3)}"
    await run_sql(deployment.superuser_url, f"create role {plain} login password 'plain-pw'")
    url = _with_database(deployment.api_url, deployment.database, user=plain,
                         password="plain-pw")
    line = one_line_error(wardgraph_cli("serve", api_url=url))
    assert f"role {plain} cannot become wg_admin, wg_auditor" in line
    assert "log in as wg_api" in line


async def test_migration_role_without_createrole_or_bypassrls_is_told_what_to_grant(
    deployment: Deployment
) -> None:
    plain = f"plain_{secrets.token_hex(3)}"
    await run_sql(deployment.superuser_url, f"create role {plain} login password 'plain-pw'")
    url = _with_database(deployment.admin_url, deployment.database, user=plain,
                         password="plain-pw")
    line = one_line_error(wardgraph_cli("migrate", admin_url=url))
    assert f"role {plain} lacks CREATEROLE, BYPASSRLS, ownership of database" in line
    assert f"alter role {plain} createrole bypassrls" in line


async def test_schema_behind_the_code_stops_serve_and_fails_check(
    server: EmbeddedPostgres, deployment: Deployment
) -> None:
    older = await another_database(server.url(database="postgres"), deployment)
    runner.upgrade(older.admin_url, "0005_patient_name_keys")
    line = one_line_error(wardgraph_cli("serve", api_url=older.api_url))
    assert f"at 0005_patient_name_keys, this version needs {code_head()}" in line
    assert "run `wardgraph migrate`" in line
    check = wardgraph_cli("migrate", "--check", api_url=older.api_url)
    assert check.returncode == 1
    assert "0005_patient_name_keys" in one_line_error(check)


async def test_migration_gives_up_on_a_held_lock_and_succeeds_when_retried(
    deployment: Deployment
) -> None:
    await run_sql(deployment.superuser_url, "comment on schema app is 'an older release'")
    holder = await asyncpg.connect(deployment.superuser_url)
    try:
        transaction = holder.transaction()
        await transaction.start()
        # A long report reading patients: re-applying the policies needs the table exclusively.
        await holder.execute("lock table app.patients in access share mode")
        started = time.monotonic()
        result = wardgraph_cli("migrate", admin_url=deployment.admin_url,
                               extra={"WARDGRAPH_MIGRATION_LOCK_TIMEOUT": "1s"})
        line = one_line_error(result)
        assert result.returncode == 75
        assert "within 1s (WARDGRAPH_MIGRATION_LOCK_TIMEOUT)" in line
        assert "run `wardgraph migrate` again" in line
        assert time.monotonic() - started < 30
        stamp = await holder.fetchval(
            "select obj_description('app'::regnamespace, 'pg_namespace')")
        assert stamp == "an older release"  # rolled back: nothing changed
        await transaction.rollback()
    finally:
        await holder.close()
    retried = wardgraph_cli("migrate", admin_url=deployment.admin_url)
    assert retried.returncode == 0, retried.stderr
