"""One list of roles: policies/roles.sql writes it once; the database, the migrations' reset,
the access matrix and the policy tools all read that list."""

from __future__ import annotations

import asyncpg

from tests.harness import DatabaseUnderTest
from wardgraph.migrations.apply import RESET_SQL
from wardgraph.ops.policy_tools.docs import ROLE_SENTENCES
from wardgraph.ops.policy_tools.lint import UNRESTRICTED_ROLES
from wardgraph.policies import ROLES


async def test_python_reads_the_same_roles_the_database_was_given(
    database: DatabaseUnderTest,
) -> None:
    connection = await asyncpg.connect(database.admin_url)
    try:
        listed = await connection.fetchval("select platform.wardgraph_roles()")
        existing = await connection.fetchval(
            "select array_agg(rolname::text) from pg_roles where rolname = any($1::text[])",
            list(ROLES))
    finally:
        await connection.close()
    assert tuple(listed) == ROLES
    assert sorted(existing) == sorted(ROLES)


def test_the_roles_list_holds_the_request_roles_and_the_login_role() -> None:
    assert {"wg_admin", "wg_clinician", "wg_nurse", "wg_billing", "wg_auditor", "wg_partner",
            "wg_api", "wg_tenant"} <= set(ROLES)
    assert len(set(ROLES)) == len(ROLES)


def test_the_migrations_reset_revokes_from_every_role() -> None:
    assert all(role in RESET_SQL for role in ROLES)


def test_every_role_has_a_sentence_in_the_policy_docs() -> None:
    assert set(ROLE_SENTENCES) == set(ROLES)


def test_every_unrestricted_role_is_a_declared_role() -> None:
    assert set(UNRESTRICTED_ROLES) <= set(ROLES)
