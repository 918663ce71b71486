"""docs/policies.md, generated from the live matrix and the comments of the policy files.

`wardgraph policies --format markdown > docs/policies.md` writes it; tests/test_policy_docs.py
fails when the committed file differs from what a freshly migrated database generates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wardgraph.ops.policy_tools.connection import AuditError
from wardgraph.ops.policy_tools.lint import LINTS, UNRESTRICTED_ROLES
from wardgraph.ops.policy_tools.matrix import COMMANDS, Matrix, MatrixRow, Policy, readable
from wardgraph.policies import all_policy_sql

ROLE_SENTENCES: dict[str, str] = {
    "wg_admin": "A tenant's administrator: manages facilities, wards, beds, users and partner "
                "tokens, and works across every facility of its own tenant.",
    "wg_clinician": "A doctor: reads and records the patients, admissions and vital signs of "
                    "the facilities they work in, and alone may set a patient's SpO2 scale.",
    "wg_nurse": "A nurse: admits, transfers, discharges and observes patients in the "
                "facilities they work in.",
    "wg_billing": "Billing staff: read admissions and accrue bed-day charges for their "
                  "facilities, and see no vital signs.",
    "wg_auditor": "An auditor: reads the whole tenant's PHI audit trail and "
                  "audit.policy_matrix, the organisation of its own facilities, and no PHI.",
    "wg_partner": "A partner system holding a scoped token: reads (or records observations) "
                  "only with the matching scope and only in its token's facilities.",
    "wg_query_registry": "Owns the auth.* functions that read and register persisted GraphQL "
                         "queries, a deployment-wide registry with no tenant data; no request "
                         "runs as it.",
    "wg_audit_writer": "Owns app.record_audit_events(), the only way a request appends to the "
                       "audit trail; no request runs as it.",
    "wg_authenticator": "Owns the auth.* functions that look up a login or a partner token "
                        "before any tenant is known; no request runs as it.",
    "wg_reporter": "Owns app.daily_report(), which counts a facility's days (observations "
                   "included) for the caller's facilities, or the whole tenant for ADMIN; no "
                   "request runs as it.",
    "wg_admission_tracker": "Owns app.track_admitted_facilities(), the trigger that records "
                            "the facilities each patient was admitted to, whoever admits; no "
                            "request runs as it.",
    "wg_news2_scorer": "Owns app.spo2_scale_for_recording(), which gives whoever records vital "
                       "signs (a nurse, a clinician, a partner with observations:write) the "
                       "patient's SpO2 scale to score them on; no request runs as it.",
    "wg_ledger_writer": "Owns the functions that write the bed-day ledger (charges and "
                        "reversals derived from the stays), the accrual watermarks and the "
                        "admission-number counters; no request runs as it.",
    "wg_rate_limiter": "Owns auth.take_request(), the rate limit's token buckets that every "
                       "API process shares; no request runs as it.",
    "wg_audit_reader": "Owns app.audit_event_seqs_touching(), the auditor's indexed look-up of "
                       "the audit events that touched a patient, within the caller's tenant; no "
                       "request runs as it.",
    "wg_api": "The API's login role: owns and reads nothing itself (NOINHERIT) and can only "
              "become one of the request roles, one transaction at a time.",
    "wg_tenant": "The group of every role that acts inside one tenant: the restrictive "
                 "same-tenant policies name it, so they bind all its members.",
}

PSQL_EXAMPLES = """\
-- Who may read patients, which columns, and which rows?
select role, granted, columns, using_expression
from audit.policy_matrix
where table_schema = 'app' and table_name = 'patients' and command = 'SELECT'
  and granted <> 'no';

-- Everything a partner token may write.
select table_schema, table_name, command, with_check_expression
from audit.policy_matrix
where role = 'wg_partner' and command <> 'SELECT' and granted <> 'no';

-- The policies of one table, as Postgres holds them.
select policyname, permissive, roles, cmd, qual, with_check
from pg_policies
where schemaname = 'app' and tablename = 'observations';

-- Tables whose row security is off or not forced (expect none).
select c.oid::regclass, c.relrowsecurity, c.relforcerowsecurity
from pg_class c
where c.relnamespace in ('app'::regnamespace, 'platform'::regnamespace)
  and c.relkind = 'r' and not (c.relrowsecurity and c.relforcerowsecurity);

-- SECURITY DEFINER functions, their owners and pinned search_path.
select p.oid::regprocedure, p.proowner::regrole, p.proconfig
from pg_proc p
where p.prosecdef
  and p.pronamespace::regnamespace::text in ('app', 'platform', 'auth', 'audit');

-- Who may execute each function (grantee 0 is PUBLIC; expect none).
select p.oid::regprocedure, a.grantee::regrole, a.privilege_type
from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
where p.pronamespace::regnamespace::text in ('app', 'platform', 'auth', 'audit')
  and a.grantee <> p.proowner
order by 1, 2;
"""

_ENABLES_RLS = re.compile(r"alter\s+table\s+([\w.]+)\s+enable\s+row\s+level\s+security", re.I)
_CREATES_POLICY = re.compile(r"^\s*create\s+policy\s+(\w+)", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s")


@dataclass(frozen=True)
class PolicyFileNotes:
    table_files: dict[str, str]  # table -> policy file that enables its row security
    file_sentences: dict[str, str]  # policy file -> first sentence of its header comment
    policy_comments: dict[str, str]  # policy name -> the comment right above it


def header_sentence(sql: str) -> str:
    header: list[str] = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        header.append(line.removeprefix("--").strip())
    text = " ".join(part for part in header if part)
    return _SENTENCE_END.split(text, maxsplit=1)[0] if text else ""


def read_policy_notes() -> PolicyFileNotes:
    tables: dict[str, str] = {}
    sentences: dict[str, str] = {}
    comments: dict[str, str] = {}
    for name, sql in all_policy_sql():
        sentences[name] = header_sentence(sql)
        for table in _ENABLES_RLS.findall(sql):
            tables.setdefault(table, name)
        lines = sql.splitlines()
        for index, line in enumerate(lines):
            match = _CREATES_POLICY.match(line)
            if not match:
                continue
            above: list[str] = []
            for previous in reversed(lines[:index]):
                if not previous.startswith("--"):
                    break
                above.insert(0, previous.removeprefix("--").strip())
            if above:
                comments[match.group(1)] = " ".join(above)
    return PolicyFileNotes(tables, sentences, comments)


def _code(expression: str | None) -> str:
    return "`" + " ".join(readable(expression or "").split()) + "`"


def _cell(row: MatrixRow) -> str:
    return {"yes": "yes", "columns": "columns"}.get(row.granted, "—")


def _policy_item(policy: Policy, comment: str | None) -> str:
    kind = "permissive" if policy.permissive else "restrictive"
    command = "all commands" if policy.command == "ALL" else policy.command
    roles = ", ".join(f"`{role}`" for role in policy.roles)
    parts = []
    if policy.using_expression is not None:
        parts.append(f"using {_code(policy.using_expression)}")
    if policy.with_check_expression is not None:
        parts.append(f"with check {_code(policy.with_check_expression)}")
    item = f"- `{policy.name}`: {kind}, {command}, to {roles}; {'; '.join(parts)}."
    return item + (f" *{comment}*" if comment else "")


def _table_section(matrix: Matrix, table: str, notes: PolicyFileNotes) -> list[str]:
    rows = matrix.rows_of(table)
    file = notes.table_files.get(table)
    lines = [f"### {table}", ""]
    if file:
        lines += [f"{notes.file_sentences[file]} (`wardgraph/policies/{file}`)", ""]
    else:
        lines += ["No policy file enables row security on this table.", ""]
    first = rows[0]
    flags = "enabled and forced" if first.rls_enabled and first.rls_forced else (
        "enabled, not forced" if first.rls_enabled else "off")
    lines += [f"Row security: {flags}.", ""]
    granted_roles = list(dict.fromkeys(r.role for r in rows if r.granted != "no"))
    if granted_roles:
        lines += ["| role | " + " | ".join(COMMANDS) + " |",
                  "|---|" + "---|" * len(COMMANDS)]
        for role in granted_roles:
            cells = {r.command: _cell(r) for r in rows if r.role == role}
            lines.append(f"| `{role}` | " + " | ".join(cells[c] for c in COMMANDS) + " |")
        lines += ["", "No other role holds a privilege on this table.", ""]
    else:
        lines += ["No role holds a privilege on this table.", ""]
    partial = [r for r in rows if r.granted == "columns"]
    if partial:
        lines += ["Column grants:", ""]
        lines += [f"- `{r.role}` {r.command}: {', '.join(r.columns or [])}" for r in partial]
        lines.append("")
    policies = matrix.policies_of(table)
    if policies:
        lines += ["Policies:", ""]
        lines += [_policy_item(p, notes.policy_comments.get(p.name))
                  for p in policies.values()]
        lines.append("")
    return lines


def render_markdown(matrix: Matrix) -> str:
    notes = read_policy_notes()
    named = set(matrix.roles()) | {r for p in matrix.policies for r in p.roles}
    missing = sorted(named - ROLE_SENTENCES.keys() - {"public"})
    if missing:
        raise AuditError("no sentence for role(s) " + ", ".join(missing)
                         + " in wardgraph/ops/policy_tools/docs.py ROLE_SENTENCES")
    lines = [
        "# Access policies",
        "",
        "<!-- Generated by `wardgraph policies --format markdown` from a freshly migrated "
        "database; do not edit by hand. tests/test_policy_docs.py fails when it is stale. -->",
        "",
        "Who may touch which table, which rows, and why. The source of every rule is "
        "`wardgraph/policies/` (one SQL file per table or concern, applied after every "
        "migration); this page is read back from the catalog of a migrated database through "
        "the view `audit.policy_matrix` and `pg_policies`. Regenerate it with "
        "`wardgraph policies --format markdown > docs/policies.md`.",
        "",
        "## Roles",
        "",
    ]
    lines += [f"- `{role}`: {sentence}" for role, sentence in ROLE_SENTENCES.items()]
    lines += [
        "",
        "## Reading the matrix",
        "",
        "- **yes**: the role holds the privilege on the whole table; **columns**: on the "
        "columns listed under the table only; **—**: not at all (the statement fails with "
        "permission denied).",
        "- A granted command reaches only the rows its policies let through: at least one "
        "permissive policy (policies are OR-ed; none means no row), and every restrictive one "
        "(AND-ed). Every table has a restrictive `<table>_same_tenant` policy for `wg_tenant`, "
        "so no permissive policy reaches another tenant's rows.",
        "- A policy applies to the roles it names and their members. INSERT and UPDATE check new "
        "rows with WITH CHECK (or USING when a policy has none); an UPDATE or DELETE with a "
        "WHERE clause also needs the role's SELECT policies.",
        "- Expressions are printed as Postgres holds them; `( SELECT f() AS f)` is shown as "
        "`(select f())`: a claim read once per statement, not once per row.",
        "",
        "## Tables",
        "",
    ]
    for table in matrix.tables():
        lines += _table_section(matrix, table, notes)
    lines += [
        "## Lints",
        "",
        "`wardgraph policies --lint` (and tests/test_policy_lint.py) fail on any finding of:",
        "",
    ]
    lines += [f"- `{lint.name}`: {lint.rule}" for lint in LINTS]
    lines += [
        "",
        "A permissive `true` policy is allowed only for " + ", ".join(
            f"`{role}`" for role in UNRESTRICTED_ROLES) + ": the administrator and the auditor "
        "work tenant-wide, the audit writer, the authenticator, the admission tracker and the "
        "rate limiter only run "
        "behind their SECURITY DEFINER functions.",
        "",
        "## Auditing with psql",
        "",
        "`audit.policy_matrix` holds the matrix above, one row per table, role and command "
        "(readable by `wg_auditor` and by DBAs). `wardgraph policies --check` compares the "
        "whole catalog (policies, table, column, schema and function privileges, row security "
        "flags, functions and their search_path) with a database freshly built from the "
        "policy files and prints every difference.",
        "",
        "```sql",
        PSQL_EXAMPLES.rstrip("\n"),
        "```",
        "",
    ]
    return "\n".join(lines)
