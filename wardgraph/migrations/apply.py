"""Applying wardgraph/policies/ after the versioned migrations.

The policy files are the one source of grants, RLS policies and functions. They are applied as
a whole on every upgrade to head: every policy on the app's tables and every privilege held by
the wg_* roles is cleared first, then each file runs, all in the migration's transaction. The
live catalog therefore holds exactly what the files say, and nothing an earlier version said.
"""

from wardgraph.migrations.sql_files import run_sql
from wardgraph.migrations.stamp import expected_stamp
from wardgraph.policies import POLICY_FILES, ROLES, read_policy

APP_SCHEMAS = ("app", "platform", "auth", "audit")

WG_ROLES = ROLES

DROP_POLICIES_SQL = """
-- Drop every RLS policy on the app's tables (policies can depend on tables a migration changes).
do $reset$
declare
    p record;
begin
    for p in select schemaname, tablename, policyname from pg_catalog.pg_policies
             where schemaname in ('app', 'platform')
    loop
        execute format('drop policy %I on %I.%I', p.policyname, p.schemaname, p.tablename);
    end loop;
end
$reset$;
"""

# RESET_SQL's revoke takes EXECUTE from the wg_* roles that own functions too. An owner has it on
# a fresh database, and a migration role that is not a superuser (a member of the owner) cannot
# CREATE OR REPLACE a function that its owner may not execute: give it back.
OWNERS_KEEP_EXECUTE_SQL = """
do $owners$
declare
    f record;
begin
    for f in select p.oid::regprocedure as routine, p.proowner::regrole as owner
             from pg_catalog.pg_proc p
             where p.pronamespace::regnamespace::text in ('app', 'platform', 'auth', 'audit')
               and p.prokind in ('f', 'p')
    loop
        execute format('grant execute on routine %s to %s', f.routine, f.owner);
    end loop;
end
$owners$;
"""

# Clears what the policy files grant, so that a grant removed from a file is removed from the
# database too.
RESET_SQL = DROP_POLICIES_SQL + f"""
revoke all on all tables in schema {", ".join(APP_SCHEMAS)} from {", ".join(WG_ROLES)};
revoke all on all sequences in schema {", ".join(APP_SCHEMAS)} from {", ".join(WG_ROLES)};
revoke all on all functions in schema {", ".join(APP_SCHEMAS)} from public, {", ".join(WG_ROLES)};
revoke all on schema {", ".join(APP_SCHEMAS)} from public, {", ".join(WG_ROLES)};
""" + OWNERS_KEEP_EXECUTE_SQL


def drop_policies() -> None:
    run_sql(DROP_POLICIES_SQL)


def apply_policies() -> None:
    """Run the reset and every policy file (roles first, so the reset can name them)."""
    first, *rest = POLICY_FILES
    run_sql(f"-- policies/{first}\n" + read_policy(first))
    run_sql(RESET_SQL)
    for name in rest:
        run_sql(f"-- policies/{name}\n" + read_policy(name))
    run_sql(f"comment on schema app is '{expected_stamp()}';")


def stamp_below_head(revision: str | None) -> None:
    """Below head the policies are not applied: the stamp names the revision and no digest, so
    no check takes the schema for up to date."""
    # A revision id of this package, never input.
    comment = f"'wardgraph schema {revision} policies none'" if revision else "null"
    run_sql(STAMP_IF_SCHEMA_SQL.replace("COMMENT", comment))


STAMP_IF_SCHEMA_SQL = """
do $stamp$ begin
    if exists (select 1 from pg_catalog.pg_namespace where nspname = 'app') then
        comment on schema app is COMMENT;
    end if;
end $stamp$;
"""
