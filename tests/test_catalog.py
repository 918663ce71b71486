"""The catalog holds the isolation rules for every table, not just the ones we remembered."""

from __future__ import annotations

from tests.factories import admin_fetch
from tests.harness import DatabaseUnderTest

APP_SCHEMAS = ("app", "platform")


async def test_every_table_has_rls_enabled_and_forced(database: DatabaseUnderTest) -> None:
    rows = await admin_fetch(database.admin_url, """
        select n.nspname || '.' || c.relname as name,
               c.relrowsecurity, c.relforcerowsecurity
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any($1) and c.relkind in ('r', 'p')""", list(APP_SCHEMAS))
    assert len(rows) >= 10
    offenders = [r["name"] for r in rows
                 if not (r["relrowsecurity"] and r["relforcerowsecurity"])]
    assert offenders == []


async def test_every_app_table_has_tenant_id_in_its_primary_key(
    database: DatabaseUnderTest,
) -> None:
    rows = await admin_fetch(database.admin_url, """
        select c.relname,
               exists (select 1 from pg_constraint k
                       join pg_attribute a on a.attrelid = k.conrelid and a.attnum = any(k.conkey)
                       where k.conrelid = c.oid and k.contype = 'p'
                         and a.attname = 'tenant_id') as has_tenant_pk
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app' and c.relkind = 'r'""")
    # platform holds the operator's per-deployment tables (tenants, persisted queries).
    assert [r["relname"] for r in rows if not r["has_tenant_pk"]] == []


async def test_every_unique_index_of_app_leads_with_tenant_id(database: DatabaseUnderTest) -> None:
    # An unscoped unique index would answer "already exists" for another tenant's value.
    rows = await admin_fetch(database.admin_url, """
        select i.indexrelid::regclass::text as index_name,
               (select a.attname from pg_attribute a
                where a.attrelid = i.indrelid and a.attnum = i.indkey[0]) as first_column
        from pg_index i
        join pg_class c on c.oid = i.indrelid
        join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app' and i.indisunique""")
    assert rows
    assert [r["index_name"] for r in rows if r["first_column"] != "tenant_id"] == []


async def test_every_foreign_key_between_tenant_tables_includes_tenant_id(
    database: DatabaseUnderTest,
) -> None:
    # Foreign-key checks bypass RLS: only a composite key stops a cross-tenant reference.
    rows = await admin_fetch(database.admin_url, """
        select k.conname,
               exists (select 1 from pg_attribute a
                       where a.attrelid = k.conrelid and a.attnum = any(k.conkey)
                         and a.attname = 'tenant_id') as includes_tenant
        from pg_constraint k join pg_namespace n on n.oid = k.connamespace
        where n.nspname = 'app' and k.contype = 'f'""")
    assert rows
    assert [r["conname"] for r in rows if not r["includes_tenant"]] == []


async def test_api_login_role_holds_no_table_privileges(database: DatabaseUnderTest) -> None:
    rows = await admin_fetch(database.admin_url, """
        select table_schema, table_name, privilege_type
        from information_schema.role_table_grants where grantee = 'wg_api'
        union all
        select table_schema, table_name, privilege_type
        from information_schema.column_privileges where grantee = 'wg_api'""")
    assert rows == []


async def test_api_login_role_is_noinherit_and_owns_nothing(database: DatabaseUnderTest) -> None:
    rows = await admin_fetch(database.admin_url, """
        select r.rolinherit, r.rolsuper, r.rolbypassrls,
               (select count(*) from pg_class c where c.relowner = r.oid) as owned
        from pg_roles r where r.rolname = 'wg_api'""")
    assert [dict(r) for r in rows] == [
        {"rolinherit": False, "rolsuper": False, "rolbypassrls": False, "owned": 0}]
