"""SECURITY DEFINER functions cannot be led astray by the caller's session: each pins
search_path = pg_catalog, pg_temp, and no request role may create temporary objects. Both are
read from the catalog, so functions and roles added later are held to the same rule."""

from __future__ import annotations

import asyncpg
import pytest

from tests.factories import admin_fetch
from tests.harness import DatabaseUnderTest
from tests.sql_roles import as_role
from wardgraph.auth.claims import Role

PINNED = "search_path=pg_catalog, pg_temp"

# Every SECURITY DEFINER function outside the system's schemas, and its search_path setting.
DEFINER_FUNCTIONS = """
select p.oid::regprocedure::text as function,
       (select s from unnest(coalesce(p.proconfig, '{}')) as s
        where s like 'search_path=%') as search_path
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
where p.prosecdef
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_%'
order by 1
"""

# Every role of the application (wg_*, the login role included) that may create temporary
# objects in this database.
ROLES_WITH_TEMP = """
select rolname from pg_roles
where rolname like 'wg\\_%'
  and has_database_privilege(rolname, current_database(), 'TEMP')
order by 1
"""


async def unpinned(connection: asyncpg.Connection) -> list[str]:
    rows = await connection.fetch(DEFINER_FUNCTIONS)
    assert len(rows) >= 8, "the catalog query found too few functions to be right"
    return [f"{r['function']}: {r['search_path']}" for r in rows if r["search_path"] != PINNED]


async def test_every_security_definer_function_pins_pg_catalog_then_pg_temp(
        database: DatabaseUnderTest) -> None:
    connection = await asyncpg.connect(database.admin_url)
    try:
        assert await unpinned(connection) == []
    finally:
        await connection.close()


async def test_a_definer_function_added_later_without_pg_temp_is_caught(
        database: DatabaseUnderTest) -> None:
    connection = await asyncpg.connect(database.admin_url)
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute("""
            create function app.added_later() returns int language sql security definer
            set search_path = pg_catalog as $$ select 1 $$""")
        assert await unpinned(connection) == ["app.added_later(): search_path=pg_catalog"]
    finally:
        await transaction.rollback()
        await connection.close()


async def test_no_application_role_may_create_temporary_objects(
        database: DatabaseUnderTest) -> None:
    rows = await admin_fetch(database.admin_url, ROLES_WITH_TEMP)
    assert [r["rolname"] for r in rows] == []
    every = await admin_fetch(database.admin_url,
                              "select count(*) as n from pg_roles where rolname like 'wg\\_%'")
    assert every[0]["n"] >= 10


async def test_the_login_role_cannot_shadow_a_type_with_a_temporary_one(
        database: DatabaseUnderTest) -> None:
    # The reproduction: a pg_temp.uuid domain that app.record_audit_events() would have used.
    connection = await asyncpg.connect(database.api_url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("create domain pg_temp.uuid as text")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("create temporary table scratch (id int)")
    finally:
        await connection.close()


@pytest.mark.parametrize("role", [Role.NURSE, Role.PARTNER, Role.ADMIN])
async def test_a_request_role_cannot_create_temporary_objects(
        database: DatabaseUnderTest, role: Role) -> None:
    async with as_role(database.api_url, role, None) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute("create temporary table scratch (id int)")
