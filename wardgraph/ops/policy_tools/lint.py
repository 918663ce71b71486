"""Security lints over the live catalog: each query returns the objects that break one rule.

tests/test_policy_lint.py runs them against the test database and fails on any finding;
`wardgraph policies --lint` runs them against the configured one.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from wardgraph.ops.policy_tools import AUDITED_SCHEMAS

# Roles for which a permissive policy may let every row of the tenant through (USING or WITH
# CHECK of `true`): the tenant's administrator and auditor work tenant-wide by design, the audit
# writer appends to any tenant's chain through app.record_audit_events(), which takes the tenant
# from the claims, and the authenticator must find a login or a token before any tenant is known.
# Every other role is limited to its facilities, its own rows or a partner scope; for them a
# `true` policy is a hole. The restrictive same-tenant policies still apply to all of them.
UNRESTRICTED_ROLES: tuple[str, ...] = (
    "wg_admin", "wg_auditor", "wg_audit_writer", "wg_authenticator",
    # Reads the deployment-wide persisted-query registry (no tenant data) for auth.* functions.
    "wg_query_registry",
    # Adds an admission's facility to its patient through app.track_admitted_facilities(), for
    # whoever admits, the claim-less superuser included.
    "wg_admission_tracker",
    # Writes the bed-day ledger and the admission counters through its SECURITY DEFINER
    # functions, which name the tenant of every row, for whoever admits or discharges.
    "wg_ledger_writer",
    # Keeps every caller's rate-limit bucket through auth.take_request(), before any claims
    # are set (a bucket is a count of requests, no tenant data).
    "wg_rate_limiter",
    # Finds the events that touched a patient through app.audit_event_seqs_touching(), which
    # takes the tenant from the claims (policies/audit.sql says why it is not in wg_tenant).
    "wg_audit_reader",
)

TABLE_WITHOUT_FORCED_RLS = """
select n.nspname || '.' || c.relname as object,
       case when not c.relrowsecurity then 'row security is not enabled'
            else 'row security is not forced, so the table''s owner bypasses it' end as detail
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and c.relkind in ('r', 'p')
  and not (c.relrowsecurity and c.relforcerowsecurity)
order by 1
"""

POLICY_ON_TABLE_WITHOUT_RLS = """
select n.nspname || '.' || c.relname || ' ' || p.polname as object,
       'row security is off on the table, so this policy filters nothing' as detail
from pg_policy p
join pg_class c on c.oid = p.polrelid
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and not c.relrowsecurity
order by 1
"""

PERMISSIVE_TRUE_FOR_RESTRICTED_ROLE = """
select p.schemaname || '.' || p.tablename || ' ' || p.policyname as object,
       'permissive ' || p.cmd || ' policy with '
       || concat_ws(' and ', case when p.qual = 'true' then 'USING (true)' end,
                             case when p.with_check = 'true' then 'WITH CHECK (true)' end)
       || ' for ' || array_to_string(restricted.roles, ', ') as detail
from pg_policies p
cross join lateral (
    select array(select r::text from unnest(p.roles) as r
                 where r::text <> all($2::text[]) order by 1) as roles) restricted
where p.schemaname = any($1::text[]) and p.permissive = 'PERMISSIVE'
  and (p.qual = 'true' or p.with_check = 'true')
  and cardinality(restricted.roles) > 0
order by 1
"""

VIEW_WITHOUT_SECURITY_INVOKER = """
select n.nspname || '.' || c.relname as object,
       'the view reads with its owner''s rights, past row security: '
       || 'create it with (security_invoker = true)' as detail
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
where n.nspname = any($1::text[]) and c.relkind = 'v'
  and not exists (
      select 1 from unnest(coalesce(c.reloptions, '{}')) as o (option)
      where lower(o.option) in ('security_invoker=true', 'security_invoker=on',
                                'security_invoker=yes', 'security_invoker=1'))
order by 1
"""

# A SECURITY DEFINER function runs with its owner's rights; with the caller's search_path, the
# caller could put a table or operator of its own in front of the one the function means. The
# path is exactly pg_catalog, pg_temp: a pg_temp left off the path is searched first, so a
# session able to create temporary objects could shadow a type or table the body names
# unqualified (the PostgreSQL manual, "Writing SECURITY DEFINER Functions Safely").
SECURITY_DEFINER_WITHOUT_PINNED_SEARCH_PATH = """
select p.oid::regprocedure::text as object,
       coalesce('SECURITY DEFINER with ' || path.setting
                    || ': pin search_path = pg_catalog, pg_temp',
                'SECURITY DEFINER without SET search_path') as detail
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
left join lateral (
    select s as setting from unnest(coalesce(p.proconfig, '{}')) as s
    where s like 'search_path=%') path on true
where n.nspname = any($1::text[]) and p.prosecdef
  and path.setting is distinct from 'search_path=pg_catalog, pg_temp'
order by 1
"""

FUNCTION_EXECUTABLE_BY_PUBLIC = """
select p.oid::regprocedure::text as object,
       'PUBLIC may execute it: revoke execute from public and grant the roles that need it'
           as detail
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
where n.nspname = any($1::text[])
  and exists (
      select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where a.grantee = 0 and a.privilege_type = 'EXECUTE')
order by 1
"""

# Deleting or re-keying a referenced row looks the referencing rows up by the foreign key's
# columns; without an index leading with them that is a sequential scan under a lock.
FOREIGN_KEY_WITHOUT_INDEX = """
select n.nspname || '.' || c.relname || ' ' || k.conname as object,
       'no index leads with the foreign key''s columns (' || fk.columns || ')' as detail
from pg_constraint k
join pg_class c on c.oid = k.conrelid
join pg_namespace n on n.oid = c.relnamespace
cross join lateral (
    select string_agg(a.attname, ', ' order by key.position) as columns
    from unnest(k.conkey) with ordinality as key (attnum, position)
    join pg_attribute a on a.attrelid = k.conrelid and a.attnum = key.attnum) fk
where k.contype = 'f' and n.nspname = any($1::text[])
  and not exists (
      select 1 from pg_index i
      where i.indrelid = k.conrelid and i.indisvalid and i.indpred is null
        and i.indnkeyatts >= cardinality(k.conkey)
        and (select array_agg(x order by x)
             from unnest(i.indkey[0:cardinality(k.conkey) - 1]) as x)
          = (select array_agg(x order by x) from unnest(k.conkey) as x))
order by 1
"""

POLICY_READS_SETTING_DIRECTLY = """
select p.schemaname || '.' || p.tablename || ' ' || p.policyname as object,
       'calls current_setting() directly: read claims through the app.current_*() functions, '
       || 'which turn a finished transaction''s empty setting into NULL' as detail
from pg_policies p
where p.schemaname = any($1::text[])
  and (p.qual ~* 'current_setting\\s*\\(' or p.with_check ~* 'current_setting\\s*\\(')
order by 1
"""

# pg_policies prints a call wrapped in a scalar subquery as "( SELECT app.f(...) AS f)". Erase
# those; any claims call left is evaluated once per row instead of once per statement.
POLICY_CLAIM_CALL_NOT_WRAPPED = """
select p.schemaname || '.' || p.tablename || ' ' || p.policyname as object,
       'calls ' || substring(unwrapped.text from 'app\\.(?:current_\\w+|has_scope)\\(')
       || ') outside (select ...), so it runs once per row' as detail
from pg_policies p
cross join lateral (
    select regexp_replace(coalesce(p.qual, '') || ' ' || coalesce(p.with_check, ''),
                          '\\(\\s*SELECT\\s+app\\.(current_\\w+|has_scope)\\(',
                          '(SELECT wrapped(', 'gi') as text) unwrapped
where p.schemaname = any($1::text[])
  and unwrapped.text ~* 'app\\.(current_\\w+|has_scope)\\('
order by 1
"""


@dataclass(frozen=True)
class Lint:
    name: str
    rule: str  # the rule it holds, in one sentence (docs and --lint output)
    sql: str
    takes_allowed_roles: bool = False


LINTS: tuple[Lint, ...] = (
    Lint("table-without-forced-rls",
         "Every table has row security enabled and forced.", TABLE_WITHOUT_FORCED_RLS),
    Lint("policy-on-table-without-rls",
         "No policy sits on a table whose row security is off.", POLICY_ON_TABLE_WITHOUT_RLS),
    Lint("permissive-true-for-restricted-role",
         "Only " + ", ".join(UNRESTRICTED_ROLES) + " have a permissive policy of USING (true) "
         "or WITH CHECK (true).", PERMISSIVE_TRUE_FOR_RESTRICTED_ROLE,
         takes_allowed_roles=True),
    Lint("view-without-security-invoker",
         "Every view is security_invoker.", VIEW_WITHOUT_SECURITY_INVOKER),
    Lint("security-definer-without-search-path",
         "Every SECURITY DEFINER function pins search_path = pg_catalog, pg_temp.",
         SECURITY_DEFINER_WITHOUT_PINNED_SEARCH_PATH),
    Lint("function-executable-by-public",
         "No function in " + ", ".join(AUDITED_SCHEMAS) + " is executable by PUBLIC.",
         FUNCTION_EXECUTABLE_BY_PUBLIC),
    Lint("foreign-key-without-index",
         "Every foreign key has an index leading with its columns.", FOREIGN_KEY_WITHOUT_INDEX),
    Lint("policy-reads-setting-directly",
         "No policy calls current_setting() itself.", POLICY_READS_SETTING_DIRECTLY),
    Lint("policy-claim-call-not-wrapped",
         "Policies call app.current_*() and app.has_scope() inside (select ...), once per "
         "statement.", POLICY_CLAIM_CALL_NOT_WRAPPED),
)


@dataclass(frozen=True)
class Finding:
    lint: str
    object: str
    detail: str

    def render(self) -> str:
        return f"{self.lint}: {self.object}: {self.detail}"


async def run_lint(connection: asyncpg.Connection, lint: Lint,
                   schemas: tuple[str, ...] = AUDITED_SCHEMAS) -> list[Finding]:
    args: list[list[str]] = [list(schemas)]
    if lint.takes_allowed_roles:
        args.append(list(UNRESTRICTED_ROLES))
    rows = await connection.fetch(lint.sql, *args)
    return [Finding(lint.name, row["object"], row["detail"]) for row in rows]


async def run_lints(connection: asyncpg.Connection) -> list[Finding]:
    """Every finding of every lint; the connection should have search_path = pg_catalog."""
    findings: list[Finding] = []
    for lint in LINTS:
        findings.extend(await run_lint(connection, lint))
    return findings


def render_findings(findings: list[Finding]) -> str:
    if not findings:
        return f"no findings: {len(LINTS)} lints passed"
    noun = "finding" if len(findings) == 1 else "findings"
    return "\n".join(f.render() for f in findings) + f"\n\n{len(findings)} {noun}"
