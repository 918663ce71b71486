"""A migration role that is not a superuser, on a server where wardgraph's roles exist already
(another database created them): what the superuser grants once, and the same catalog as a
superuser's migration. Runs on the test server, so on PostgreSQL 15 too in CI."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest

from tests.harness import DatabaseUnderTest, _with_database
from tests.own_postgres import one_line_error, wardgraph_cli
from wardgraph.migrations.apply import WG_ROLES
from wardgraph.ops.policy_tools.check import diff, snapshot_of


@pytest.fixture
async def migrator(scratch_url: str) -> AsyncIterator[tuple[str, str]]:
    """(role, its URL): CREATEROLE, BYPASSRLS and owner of the scratch database."""
    role, password = f"wardgraph_migrator_{secrets.token_hex(4)}", secrets.token_hex(12)
    database = urlsplit(scratch_url).path.lstrip("/")
    connection = await asyncpg.connect(scratch_url)
    try:
        await connection.execute(
            f"create role {role} login createrole bypassrls password '{password}'")
        await connection.execute(f'alter database "{database}" owner to {role}')
        yield role, _with_database(scratch_url, database, user=role, password=password)
        await connection.execute(f'alter database "{database}" owner to current_user')
        await connection.execute(f"reassign owned by {role} to current_user")
        await connection.execute(f"drop owned by {role}")
        await connection.execute(f"drop role {role}")
    finally:
        await connection.close()


async def server_version(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("show server_version_num"))
    finally:
        await connection.close()


async def test_migration_role_gets_the_same_catalog_as_a_superuser(
    database: DatabaseUnderTest, scratch_url: str, migrator: tuple[str, str]
) -> None:
    role, url = migrator
    first = wardgraph_cli("migrate", admin_url=url)
    if await server_version(scratch_url) >= 160000:
        # PostgreSQL 16+: granting a role needs ADMIN OPTION on it, which only its creator
        # holds; the failure names what the superuser must grant.
        line = one_line_error(first)
        assert "with admin option" in line and role in line
        connection = await asyncpg.connect(scratch_url)
        try:
            await connection.execute(
                f"grant {', '.join(WG_ROLES)} to {role} with admin option")
        finally:
            await connection.close()
        first = wardgraph_cli("migrate", admin_url=url)
    assert first.returncode == 0, first.stderr
    # Each catalog read as the role that migrated it, which both name "(migration role)": the
    # test database was migrated by a superuser.
    differences = diff(await snapshot_of(database.admin_url), await snapshot_of(url))
    assert [d.render() for d in differences] == []
