"""The operator's CLI, run as a real process against the test database."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest

from tests.harness import TEST_SECRET, Api, DatabaseUnderTest


def wardgraph(database: DatabaseUnderTest, *args: str, stdin: str = ""
              ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WARDGRAPH_DATABASE_URL": database.api_url,
           "WARDGRAPH_ADMIN_DATABASE_URL": database.admin_url,
           "WARDGRAPH_JWT_SECRET": TEST_SECRET}
    return subprocess.run([sys.executable, "-m", "wardgraph.ops.cli", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture
def slug() -> str:
    return f"cli-{secrets.token_hex(4)}"


async def test_tenant_user_and_token_commands_give_a_working_token(
    database: DatabaseUnderTest, api: Api, slug: str
) -> None:
    created = wardgraph(database, "tenant", "create", slug, "--name", "CLI Hospital")
    assert created.returncode == 0, created.stderr
    user = wardgraph(database, "user", "create", "--tenant", slug, "--email", "ops@cli.example",
                     "--role", "admin", "--password-stdin", stdin="a long enough password\n")
    assert user.returncode == 0, user.stderr
    token = wardgraph(database, "token", "issue", "--tenant", slug, "--email", "ops@cli.example",
                      "--ttl", "1h")
    assert token.returncode == 0, token.stderr
    data = await api.data("{ viewer { role tenant { slug } user { email } } }", {},
                          token.stdout.strip())
    assert data["viewer"] == {"role": "ADMIN", "tenant": {"slug": slug},
                              "user": {"email": "ops@cli.example"}}
    # The password set through stdin logs in.
    login = await api.data(
        "mutation($i: LoginInput!) { login(input: $i) { token } }",
        {"i": {"tenant": slug, "email": "ops@cli.example", "password": "a long enough password"}})
    assert login["login"]["token"]


def test_duplicate_tenant_is_refused_with_a_message(database: DatabaseUnderTest, slug: str
                                                     ) -> None:
    assert wardgraph(database, "tenant", "create", slug, "--name", "One").returncode == 0
    again = wardgraph(database, "tenant", "create", slug, "--name", "Two")
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def test_user_for_unknown_tenant_or_facility_is_refused(database: DatabaseUnderTest, slug: str
                                                         ) -> None:
    missing = wardgraph(database, "user", "create", "--tenant", "no-such-tenant", "--email",
                        "a@b.example", "--role", "nurse")
    assert missing.returncode == 2 and "no tenant" in missing.stderr
    assert wardgraph(database, "tenant", "create", slug, "--name", "X").returncode == 0
    no_facility = wardgraph(database, "user", "create", "--tenant", slug, "--email",
                            "a@b.example", "--role", "nurse", "--facility", "ZZZ")
    assert no_facility.returncode == 2 and "ZZZ" in no_facility.stderr


def test_short_password_is_refused(database: DatabaseUnderTest, slug: str) -> None:
    result = wardgraph(database, "user", "create", "--tenant", slug, "--email", "a@b.example",
                       "--role", "nurse", "--password-stdin", stdin="short\n")
    assert result.returncode == 2 and "12 characters" in result.stderr


def test_token_for_unknown_user_is_refused(database: DatabaseUnderTest) -> None:
    result = wardgraph(database, "token", "issue", "--tenant", "nope", "--email", "x@y.example")
    assert result.returncode == 2 and "no user" in result.stderr


def test_migrate_on_a_migrated_database_succeeds(database: DatabaseUnderTest) -> None:
    result = wardgraph(database, "migrate")
    assert result.returncode == 0, result.stderr
