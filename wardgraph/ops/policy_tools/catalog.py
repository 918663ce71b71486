"""A snapshot of what the policy files decide, read from a live catalog.

Everything here is something a policy file (or a migration) sets and a DBA could change by hand:
row security flags, policies, table, column, schema and function privileges, default privileges,
functions (body, SECURITY DEFINER, search_path, owner) and triggers. Names and expressions come
from the catalog's own printers (pg_get_expr through pg_policies, pg_get_viewdef,
pg_get_triggerdef, pg_get_function_identity_arguments), so two databases built from the same files
print alike. The role that ran the migrations differs between servers, so it reads as
"(migration role)".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

# One snapshot entry: (kind, key) -> fields. Keys and fields are plain text, lists and booleans.
Key = tuple[str, str]
Snapshot = dict[Key, dict[str, Any]]

FETCH_RELATIONS = """
select n.nspname || '.' || c.relname as name,
       case c.relkind when 'r' then 'table' when 'p' then 'table' when 'v' then 'view'
                      when 'm' then 'materialized view' when 'S' then 'sequence'
                      else 'foreign table' end as kind,
       c.relrowsecurity as rls_enabled,
       c.relforcerowsecurity as rls_forced,
       coalesce(c.reloptions, '{}') as options,
       case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end as definition,
       case when pg_get_userbyid(c.relowner) = current_user then '(migration role)'
            else pg_get_userbyid(c.relowner)::text end as owner
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
order by 1
"""

FETCH_POLICIES = """
select p.schemaname || '.' || p.tablename || ' ' || p.policyname as name,
       p.permissive,
       array(select r::text from unnest(p.roles) as r order by 1) as roles,
       p.cmd as command,
       p.qual as using,
       p.with_check
from pg_policies p
where p.schemaname = any($1::text[])
order by 1
"""

FETCH_TABLE_PRIVILEGES = """
select n.nspname || '.' || c.relname as object,
       case when a.grantee = 0 then 'PUBLIC'
            when pg_get_userbyid(a.grantee) = current_user then '(migration role)'
            else pg_get_userbyid(a.grantee)::text end as grantee,
       a.privilege_type as privilege,
       a.is_grantable as grantable
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
cross join lateral aclexplode(coalesce(
    c.relacl,
    acldefault(case when c.relkind = 'S' then 's'::"char" else 'r'::"char" end, c.relowner))) a
where n.nspname = any($1::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
  and a.grantee <> c.relowner
order by 1, 2, 3
"""

FETCH_COLUMN_PRIVILEGES = """
select n.nspname || '.' || c.relname as object,
       at.attname::text as column_name,
       case when a.grantee = 0 then 'PUBLIC'
            when pg_get_userbyid(a.grantee) = current_user then '(migration role)'
            else pg_get_userbyid(a.grantee)::text end as grantee,
       a.privilege_type as privilege,
       a.is_grantable as grantable
from pg_attribute at
join pg_class c on c.oid = at.attrelid
join pg_namespace n on n.oid = c.relnamespace
cross join lateral aclexplode(at.attacl) a
where n.nspname = any($1::text[]) and at.attnum > 0 and not at.attisdropped
  and at.attacl is not null
order by 1, 2, 3, 4
"""

FETCH_SCHEMA_PRIVILEGES = """
select n.nspname::text as object,
       case when a.grantee = 0 then 'PUBLIC'
            when pg_get_userbyid(a.grantee) = current_user then '(migration role)'
            else pg_get_userbyid(a.grantee)::text end as grantee,
       a.privilege_type as privilege,
       a.is_grantable as grantable
from pg_namespace n
cross join lateral aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
where n.nspname = any($1::text[]) and a.grantee <> n.nspowner
order by 1, 2, 3
"""

FETCH_FUNCTIONS = """
select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
           as signature,
       pg_get_function_result(p.oid) as result,
       l.lanname::text as language,
       p.prosecdef as security_definer,
       case p.provolatile when 'i' then 'immutable' when 's' then 'stable'
                          else 'volatile' end as volatility,
       coalesce(p.proconfig, '{}') as settings,
       case when pg_get_userbyid(p.proowner) = current_user then '(migration role)'
            else pg_get_userbyid(p.proowner)::text end as owner,
       p.prosrc as body
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_language l on l.oid = p.prolang
where n.nspname = any($1::text[])
order by 1
"""

FETCH_FUNCTION_PRIVILEGES = """
select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
           as object,
       case when a.grantee = 0 then 'PUBLIC'
            when pg_get_userbyid(a.grantee) = current_user then '(migration role)'
            else pg_get_userbyid(a.grantee)::text end as grantee,
       a.privilege_type as privilege,
       a.is_grantable as grantable
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
cross join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
where n.nspname = any($1::text[]) and a.grantee <> p.proowner
order by 1, 2, 3
"""

# Per-schema entries, and the database-wide ones (no schema) that decide what a new function of
# the migration role starts with.
FETCH_DEFAULT_PRIVILEGES = """
select case when pg_get_userbyid(d.defaclrole) = current_user then '(migration role)'
            else pg_get_userbyid(d.defaclrole)::text end
       || ' in ' || coalesce(n.nspname::text, 'every schema')
       || ' on ' || case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences'
                                         when 'f' then 'functions' when 'T' then 'types'
                                         else 'schemas' end as object,
       array(select case when a.grantee = 0 then 'PUBLIC'
                         when pg_get_userbyid(a.grantee) = current_user then '(migration role)'
                         else pg_get_userbyid(a.grantee)::text end
                    || ' ' || a.privilege_type
             from aclexplode(d.defaclacl) a order by 1) as privileges
from pg_default_acl d
left join pg_namespace n on n.oid = d.defaclnamespace
where d.defaclnamespace = 0 or n.nspname = any($1::text[])
order by 1
"""

FETCH_TRIGGERS = """
select n.nspname || '.' || c.relname || ' ' || t.tgname as name,
       pg_get_triggerdef(t.oid) as definition,
       case t.tgenabled when 'D' then 'disabled' when 'O' then 'enabled'
                        when 'R' then 'replica' else 'always' end as enabled
from pg_trigger t
join pg_class c on c.oid = t.tgrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and not t.tgisinternal
order by 1
"""

FETCH_HAS_VERSION_TABLE = "select to_regclass('public.alembic_version') is not null"

FETCH_MIGRATION_HEADS = """
select coalesce(array_agg(version_num::text order by version_num), '{}')
from public.alembic_version
"""


def _privilege_key(row: Mapping[str, Any], *parts: str) -> str:
    return " ".join([*parts, "to", row["grantee"], row["privilege"]])


async def fetch_snapshot(connection: asyncpg.Connection, schemas: tuple[str, ...]) -> Snapshot:
    """Everything the policy files decide, as the catalog of this connection's database holds it.

    The connection should have search_path = pg_catalog (see connection.connect), so names
    print schema-qualified whatever the caller's settings.
    """
    snapshot: Snapshot = {}
    names = list(schemas)

    def add(kind: str, key: str, fields: dict[str, Any]) -> None:
        snapshot[(kind, key)] = fields

    for row in await connection.fetch(FETCH_RELATIONS, names):
        add(row["kind"], row["name"], {
            "row security enabled": row["rls_enabled"],
            "row security forced": row["rls_forced"],
            "options": list(row["options"]),
            "definition": row["definition"],
            "owner": row["owner"],
        })
    for row in await connection.fetch(FETCH_POLICIES, names):
        add("policy", row["name"], {
            "permissive": row["permissive"], "roles": list(row["roles"]),
            "command": row["command"], "using": row["using"], "with check": row["with_check"],
        })
    for row in await connection.fetch(FETCH_TABLE_PRIVILEGES, names):
        add("privilege", _privilege_key(row, row["object"]), {"grantable": row["grantable"]})
    for row in await connection.fetch(FETCH_COLUMN_PRIVILEGES, names):
        add("column privilege", _privilege_key(row, f"{row['object']}({row['column_name']})"),
            {"grantable": row["grantable"]})
    for row in await connection.fetch(FETCH_SCHEMA_PRIVILEGES, names):
        add("schema privilege", _privilege_key(row, row["object"]),
            {"grantable": row["grantable"]})
    for row in await connection.fetch(FETCH_FUNCTIONS, names):
        add("function", row["signature"], {
            "returns": row["result"], "language": row["language"],
            "security definer": row["security_definer"], "volatility": row["volatility"],
            "settings": list(row["settings"]), "owner": row["owner"], "body": row["body"],
        })
    for row in await connection.fetch(FETCH_FUNCTION_PRIVILEGES, names):
        add("function privilege", _privilege_key(row, row["object"]),
            {"grantable": row["grantable"]})
    for row in await connection.fetch(FETCH_DEFAULT_PRIVILEGES, names):
        add("default privileges", row["object"], {"privileges": list(row["privileges"])})
    for row in await connection.fetch(FETCH_TRIGGERS, names):
        add("trigger", row["name"], {"definition": row["definition"], "enabled": row["enabled"]})
    heads: list[str] = []
    if await connection.fetchval(FETCH_HAS_VERSION_TABLE):
        heads = list(await connection.fetchval(FETCH_MIGRATION_HEADS))
    add("migration", "alembic_version", {"heads": heads})
    return snapshot
