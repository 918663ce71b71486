"""The access rules in force, printed back as SQL: row security flags, GRANTs and CREATE POLICY
statements rebuilt from the catalog (`wardgraph policies --format sql`).

Postgres writes the statements itself (format() with %I quotes every identifier as it must be),
so the output runs as it is: on a database with the same tables, after the policies and grants
are cleared, it restores them (a test proves it).
"""

from __future__ import annotations

import asyncpg

from wardgraph.ops.policy_tools import AUDITED_SCHEMAS

FETCH_SCHEMA_STATEMENTS = """
select format('grant %s on schema %I to %s%s;',
              string_agg(lower(a.privilege_type), ', ' order by a.privilege_type),
              n.nspname,
              case when a.grantee = 0 then 'public'
                   else quote_ident(pg_get_userbyid(a.grantee)) end,
              case when a.is_grantable then ' with grant option' else '' end) as statement
from pg_namespace n
cross join lateral aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
where n.nspname = any($1::text[]) and a.grantee <> n.nspowner
group by n.nspname, a.grantee, a.is_grantable
order by n.nspname, 1
"""

# Per relation: its row security flags, table grants, column grants and policies, in that order.
FETCH_RELATION_STATEMENTS = """
with relations as (
    select c.oid, c.relkind, c.relowner, c.relacl, c.relrowsecurity, c.relforcerowsecurity,
           n.nspname, c.relname,
           format('%I.%I', n.nspname, c.relname) as qualified
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = any($1::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
),
privilege_order (privilege_type, position) as (
    select privilege_type, position
    from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                      'TRIGGER', 'MAINTAIN']) with ordinality as o (privilege_type, position)
),
statements as (
    select r.nspname, r.relname, 1 as section, '' as sort_key,
           format('alter table %s %s row level security;', r.qualified,
                  case when r.relrowsecurity then 'enable' else 'disable' end) as statement
    from relations r where r.relkind in ('r', 'p')
    union all
    select r.nspname, r.relname, 2, '',
           format('alter table %s %s row level security;', r.qualified,
                  case when r.relforcerowsecurity then 'force' else 'no force' end)
    from relations r where r.relkind in ('r', 'p')
    union all
    select r.nspname, r.relname, 3, pg_get_userbyid(a.grantee)::text,
           format('grant %s on %s %s to %s%s;',
                  string_agg(lower(a.privilege_type), ', ' order by o.position),
                  case when r.relkind = 'S' then 'sequence' else 'table' end, r.qualified,
                  case when a.grantee = 0 then 'public'
                       else quote_ident(pg_get_userbyid(a.grantee)) end,
                  case when a.is_grantable then ' with grant option' else '' end)
    from relations r
    cross join lateral aclexplode(coalesce(
        r.relacl,
        acldefault(case when r.relkind = 'S' then 's'::"char" else 'r'::"char" end,
                   r.relowner))) a
    left join privilege_order o on o.privilege_type = a.privilege_type
    where a.grantee <> r.relowner
    group by r.nspname, r.relname, r.relkind, r.qualified, a.grantee, a.is_grantable
    union all
    select r.nspname, r.relname, 4, pg_get_userbyid(a.grantee) || ' ' || o.position,
           format('grant %s (%s) on table %s to %s%s;',
                  lower(a.privilege_type),
                  string_agg(quote_ident(at.attname), ', ' order by at.attnum), r.qualified,
                  case when a.grantee = 0 then 'public'
                       else quote_ident(pg_get_userbyid(a.grantee)) end,
                  case when a.is_grantable then ' with grant option' else '' end)
    from relations r
    join pg_attribute at on at.attrelid = r.oid and at.attnum > 0 and not at.attisdropped
    cross join lateral aclexplode(at.attacl) a
    left join privilege_order o on o.privilege_type = a.privilege_type
    where at.attacl is not null
    group by r.nspname, r.relname, r.qualified, a.grantee, a.privilege_type, o.position,
             a.is_grantable
    union all
    select r.nspname, r.relname, 5, p.polname::text,
           format(E'create policy %I on %s as %s for %s\n    to %s%s%s;',
                  p.polname, r.qualified,
                  case when p.polpermissive then 'permissive' else 'restrictive' end,
                  case p.polcmd when 'r' then 'select' when 'a' then 'insert'
                                when 'w' then 'update' when 'd' then 'delete' else 'all' end,
                  (select string_agg(case when role_oid = 0 then 'public'
                                          else quote_ident(pg_get_userbyid(role_oid)) end,
                                     ', ' order by 1)
                   from unnest(p.polroles) as role_oid),
                  case when p.polqual is not null
                       then E'\n    using (' || pg_get_expr(p.polqual, p.polrelid) || ')'
                       else '' end,
                  case when p.polwithcheck is not null
                       then E'\n    with check (' || pg_get_expr(p.polwithcheck, p.polrelid)
                            || ')'
                       else '' end)
    from relations r
    join pg_policy p on p.polrelid = r.oid
)
select nspname || '.' || relname as relation, statement
from statements
order by nspname, relname, section, sort_key, statement
"""

FETCH_FUNCTION_STATEMENTS = """
select format('grant %s on function %s to %s%s;',
              lower(a.privilege_type), p.oid::regprocedure,
              case when a.grantee = 0 then 'public'
                   else quote_ident(pg_get_userbyid(a.grantee)) end,
              case when a.is_grantable then ' with grant option' else '' end) as statement
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
cross join lateral aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
where n.nspname = any($1::text[]) and a.grantee <> p.proowner
order by n.nspname, p.proname, p.oid::regprocedure::text, 1
"""


async def render_sql(connection: asyncpg.Connection,
                     schemas: tuple[str, ...] = AUDITED_SCHEMAS) -> str:
    """The statements that rebuild the live grants and policies of these schemas.

    The connection should have search_path = pg_catalog, so that every name in an expression
    and every function signature is printed schema-qualified.
    """
    names = list(schemas)
    out = ["-- The grants and row-level security in force, rebuilt from the live catalog",
           "-- by `wardgraph policies --format sql`. The source is wardgraph/policies/.", "",
           "-- schemas"]
    out += [r["statement"] for r in await connection.fetch(FETCH_SCHEMA_STATEMENTS, names)]
    current = None
    for row in await connection.fetch(FETCH_RELATION_STATEMENTS, names):
        if row["relation"] != current:
            current = row["relation"]
            out += ["", f"-- {current}"]
        out.append(row["statement"])
    out += ["", "-- functions"]
    out += [r["statement"] for r in await connection.fetch(FETCH_FUNCTION_STATEMENTS, names)]
    return "\n".join(out) + "\n"
