"""Citus readiness: lints over the live catalog that hold the schema to what a database
sharded by tenant (Citus, distributed by tenant_id) requires. docs/scaling.md gives the plan
they keep possible: every table distributed by tenant_id and colocated, but for a few small
reference tables named here.

- Every table is a reference table listed in REFERENCE_TABLES, or has a tenant_id to be
  distributed by.
- On a distributed table, the primary key and every unique key (constraint or index) and
  exclusion constraint include tenant_id (an exclusion constraint with `tenant_id WITH =`):
  Citus enforces them shard by shard, so they must never span two tenants.
- Foreign keys between distributed tables carry tenant_id to tenant_id; a reference table
  refers to no distributed table.
- No policy and no function joins across tenants: a policy that reads another distributed
  table reads that table's tenant_id (from pg_depend, which records each column a policy
  uses), and a function's every JOIN of a distributed table compares tenant_id in its ON or
  USING clause (read from the function's text: a body in a string has no dependencies).

The claims are the other half: see db/session.py and WARDGRAPH_CLAIMS_MODE=set_local.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg

from wardgraph.ops.policy_tools import AUDITED_SCHEMAS
from wardgraph.ops.policy_tools.lint import Finding

DISTRIBUTION_COLUMN = "tenant_id"

# Small tables every node keeps whole (create_reference_table), and why each is one.
REFERENCE_TABLES: dict[str, str] = {
    "platform.tenants": "one row per hospital; a login finds its tenant by slug before any "
                        "tenant is known, so every node must hold them all",
    "platform.persisted_queries": "deployment-wide GraphQL documents by hash, no tenant data",
}

TABLES = """
select n.nspname || '.' || c.relname as name,
       exists (select 1 from pg_attribute a
               where a.attrelid = c.oid and a.attname = $2 and not a.attisdropped
                 and a.attnotnull) as has_tenant
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and c.relkind in ('r', 'p')
order by 1
"""

# Primary keys, unique and exclusion constraints, and unique indexes (a partial unique index
# is no constraint), each with whether tenant_id is one of its key columns compared by
# equality.
KEYS = """
select n.nspname || '.' || c.relname as table_name, i.relname as key_name,
       case when k.contype = 'x' then 'exclusion constraint'
            when k.contype = 'p' then 'primary key'
            else 'unique key' end as kind,
       exists (
           select 1
           from unnest(x.indkey[0:x.indnkeyatts - 1]) with ordinality as key (attnum, position)
           join pg_attribute a on a.attrelid = c.oid and a.attnum = key.attnum
           where a.attname = $2
             and (k.contype is distinct from 'x'
                  or (select o.oprname from pg_operator o
                      where o.oid = k.conexclop[key.position]) = '=')) as has_tenant
from pg_index x
join pg_class i on i.oid = x.indexrelid
join pg_class c on c.oid = x.indrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_constraint k on k.conindid = x.indexrelid and k.conrelid = c.oid
where n.nspname = any($1::text[]) and (x.indisunique or k.contype = 'x')
order by 1, 2
"""

# Each foreign key with the referencing and referenced column of tenant_id's position, if any.
FOREIGN_KEYS = """
select n.nspname || '.' || c.relname as table_name, k.conname as key_name,
       rn.nspname || '.' || r.relname as referenced,
       exists (
           select 1
           from unnest(k.conkey, k.confkey) as pair (from_attnum, to_attnum)
           join pg_attribute fa on fa.attrelid = k.conrelid and fa.attnum = pair.from_attnum
           join pg_attribute ta on ta.attrelid = k.confrelid and ta.attnum = pair.to_attnum
           where fa.attname = $2 and ta.attname = $2) as tenant_to_tenant
from pg_constraint k
join pg_class c on c.oid = k.conrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_class r on r.oid = k.confrelid
join pg_namespace rn on rn.oid = r.relnamespace
where k.contype = 'f' and n.nspname = any($1::text[])
order by 1, 2
"""

# Each policy and the other tables its expressions read, with whether it reads their
# tenant_id: pg_depend records every column a policy expression uses.
POLICY_READS = """
select n.nspname || '.' || c.relname || ' ' || p.polname as policy,
       rn.nspname || '.' || r.relname as reads,
       bool_or(a.attname = $2) as reads_tenant
from pg_policy p
join pg_class c on c.oid = p.polrelid
join pg_namespace n on n.oid = c.relnamespace
join pg_depend d on d.classid = 'pg_policy'::regclass and d.objid = p.oid
                and d.refclassid = 'pg_class'::regclass and d.refobjid <> p.polrelid
join pg_class r on r.oid = d.refobjid and r.relkind in ('r', 'p')
join pg_namespace rn on rn.oid = r.relnamespace
left join pg_attribute a on a.attrelid = r.oid and a.attnum = d.refobjsubid
where n.nspname = any($1::text[])
group by 1, 2
order by 1, 2
"""

FUNCTION_BODIES = """
select p.oid::regprocedure::text as function, p.prosrc as body
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
join pg_language l on l.oid = p.prolang
where n.nspname = any($1::text[]) and l.lanname in ('sql', 'plpgsql')
order by 1
"""

# A JOIN of a schema-qualified table and its condition: up to the next clause, or the
# parenthesis that closes a subquery.
_JOIN = re.compile(
    r"\bjoin\s+(?!lateral\b)([a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*)(?:\s+(?:as\s+)?[a-z_][a-z0-9_]*)?"
    r"\s+(on\b.*?|using\s*\([^)]*\))"
    r"(?=\b(?:left|right|inner|full|cross|join|where|group|order|limit|window|union|returning|"
    r"on\s+conflict)\b|\)\s*(?:select|as|,|;|$)|;|\Z)",
    re.S)
_COMMENT = re.compile(r"--[^\n]*")


@dataclass(frozen=True)
class CitusLint:
    name: str
    rule: str


CITUS_LINTS: tuple[CitusLint, ...] = (
    CitusLint("citus-table-not-distributable",
              "Every table is distributed by tenant_id (not null) or is a reference table: "
              + ", ".join(REFERENCE_TABLES) + "."),
    CitusLint("citus-key-without-tenant",
              "On a distributed table, the primary key and every unique key and exclusion "
              "constraint include tenant_id."),
    CitusLint("citus-foreign-key-across-shards",
              "A foreign key between distributed tables joins tenant_id to tenant_id; a "
              "reference table refers to no distributed table."),
    CitusLint("citus-policy-joins-across-tenants",
              "A policy that reads another distributed table reads its tenant_id."),
    CitusLint("citus-function-joins-across-tenants",
              "A function's every JOIN of a distributed table compares tenant_id."),
)


def joins_without_tenant(body: str, distributed: set[str]) -> list[str]:
    """The distributed tables a function body JOINs on a condition that leaves tenant_id out."""
    text = _COMMENT.sub(" ", body.lower())
    return [table for table, condition in _JOIN.findall(text)
            if table in distributed and DISTRIBUTION_COLUMN not in condition]


async def run_citus_lints(connection: asyncpg.Connection,
                          schemas: tuple[str, ...] = AUDITED_SCHEMAS) -> list[Finding]:
    args = (list(schemas), DISTRIBUTION_COLUMN)
    findings: list[Finding] = []
    tables = await connection.fetch(TABLES, *args)
    distributed = {t["name"] for t in tables if t["name"] not in REFERENCE_TABLES}
    for table in tables:
        if table["name"] in distributed and not table["has_tenant"]:
            findings.append(Finding(
                "citus-table-not-distributable", table["name"],
                "no tenant_id to distribute by: add one, or name it in REFERENCE_TABLES"))
    for key in await connection.fetch(KEYS, *args):
        if key["table_name"] in distributed and not key["has_tenant"]:
            findings.append(Finding(
                "citus-key-without-tenant", f"{key['table_name']} {key['key_name']}",
                f"the {key['kind']} leaves tenant_id out, so a shard cannot enforce it"))
    for fk in await connection.fetch(FOREIGN_KEYS, *args):
        source, target = fk["table_name"], fk["referenced"]
        if source not in distributed and target in distributed:
            detail = "a reference table refers to a distributed table"
        elif source in distributed and target in distributed and not fk["tenant_to_tenant"]:
            detail = f"refers to {target} without tenant_id to tenant_id"
        else:
            continue
        findings.append(Finding("citus-foreign-key-across-shards",
                                f"{source} {fk['key_name']}", detail))
    for read in await connection.fetch(POLICY_READS, *args):
        if read["reads"] in distributed and not read["reads_tenant"]:
            findings.append(Finding(
                "citus-policy-joins-across-tenants", read["policy"],
                f"reads {read['reads']} without its tenant_id"))
    for function in await connection.fetch(FUNCTION_BODIES, args[0]):
        for table in joins_without_tenant(function["body"], distributed):
            findings.append(Finding(
                "citus-function-joins-across-tenants", function["function"],
                f"joins {table} on a condition without tenant_id"))
    return findings
