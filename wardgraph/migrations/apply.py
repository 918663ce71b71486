"""Applying wardgraph/policies/ after the versioned migrations.

The policy files are the one source of grants, RLS policies and functions. They are applied as
a whole on every upgrade to head: every policy on the app's tables and every privilege held by
the wg_* roles is cleared first, then each file runs, all in the migration's transaction. The
live catalog therefore holds exactly what the files say, and nothing an earlier version said.
"""

import hashlib

from wardgraph.migrations.sql_files import run_sql
from wardgraph.policies import POLICY_FILES, read_policy

APP_SCHEMAS = ("app", "platform", "auth", "audit")

WG_ROLES = (
    "wg_tenant", "wg_admin", "wg_clinician", "wg_nurse", "wg_billing", "wg_auditor",
    "wg_partner", "wg_audit_writer", "wg_authenticator", "wg_query_registry", "wg_reporter",
    "wg_admission_tracker", "wg_ledger_writer", "wg_api",
)

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

# Clears what the policy files grant, so that a grant removed from a file is removed from the
# database too.
RESET_SQL = DROP_POLICIES_SQL + f"""
revoke all on all tables in schema {", ".join(APP_SCHEMAS)} from {", ".join(WG_ROLES)};
revoke all on all sequences in schema {", ".join(APP_SCHEMAS)} from {", ".join(WG_ROLES)};
revoke all on all functions in schema {", ".join(APP_SCHEMAS)} from public, {", ".join(WG_ROLES)};
revoke all on schema {", ".join(APP_SCHEMAS)} from public, {", ".join(WG_ROLES)};
"""


def policies_digest() -> str:
    """A fingerprint of the policy files, recorded on the app schema once applied."""
    digest = hashlib.sha256()
    for name in POLICY_FILES:
        digest.update(name.encode() + b"\0" + read_policy(name).encode() + b"\0")
    return "wardgraph policies sha256:" + digest.hexdigest()


def drop_policies() -> None:
    run_sql(DROP_POLICIES_SQL)


def apply_policies() -> None:
    """Run the reset and every policy file (roles first, so the reset can name them)."""
    first, *rest = POLICY_FILES
    run_sql(f"-- policies/{first}\n" + read_policy(first))
    run_sql(RESET_SQL)
    for name in rest:
        run_sql(f"-- policies/{name}\n" + read_policy(name))
    run_sql(f"comment on schema app is '{policies_digest()}';")
