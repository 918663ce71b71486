"""The live policy matrix: table × role × command -> privilege and the row filters in force.

The rows come from the view audit.policy_matrix (wardgraph/policies/audit_matrix.sql), so the
CLI, the docs and a DBA in psql all read one definition.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import asyncpg

from wardgraph.ops.policy_tools import AUDITED_SCHEMAS
from wardgraph.ops.policy_tools.connection import AuditError

COMMANDS = ("SELECT", "INSERT", "UPDATE", "DELETE")

FETCH_HAS_MATRIX = "select to_regclass('audit.policy_matrix') is not null"

FETCH_MATRIX = """
select table_schema, table_name, role, command, granted, columns, rls_enabled, rls_forced,
       permissive_policies, restrictive_policies, using_expression, with_check_expression
from audit.policy_matrix
"""

FETCH_POLICIES = """
select schemaname::text as table_schema, tablename::text as table_name,
       policyname::text as name, permissive = 'PERMISSIVE' as permissive,
       array(select r::text from unnest(roles) as r order by 1) as roles,
       cmd as command, qual as using_expression, with_check as with_check_expression
from pg_policies
where schemaname = any($1::text[])
order by schemaname, tablename, policyname
"""


@dataclass(frozen=True)
class MatrixRow:
    table_schema: str
    table_name: str
    role: str
    command: str
    granted: str  # yes | columns | no
    columns: list[str] | None
    rls_enabled: bool
    rls_forced: bool
    permissive_policies: list[str]
    restrictive_policies: list[str]
    using_expression: str | None
    with_check_expression: str | None

    @property
    def table(self) -> str:
        return f"{self.table_schema}.{self.table_name}"


@dataclass(frozen=True)
class Policy:
    table_schema: str
    table_name: str
    name: str
    permissive: bool
    roles: list[str]
    command: str
    using_expression: str | None
    with_check_expression: str | None

    @property
    def table(self) -> str:
        return f"{self.table_schema}.{self.table_name}"

    @property
    def check_expression(self) -> str | None:
        """What INSERT and UPDATE check new rows with: WITH CHECK, else USING."""
        return self.with_check_expression or self.using_expression


@dataclass(frozen=True)
class Matrix:
    rows: list[MatrixRow]
    policies: list[Policy]

    def tables(self) -> list[str]:
        return list(dict.fromkeys(row.table for row in self.rows))

    def rows_of(self, table: str) -> list[MatrixRow]:
        return [row for row in self.rows if row.table == table]

    def roles(self) -> list[str]:
        return list(dict.fromkeys(row.role for row in self.rows))

    def policies_of(self, table: str) -> dict[str, Policy]:
        return {p.name: p for p in self.policies if p.table == table}


async def fetch_matrix(connection: asyncpg.Connection) -> Matrix:
    if not await connection.fetchval(FETCH_HAS_MATRIX):
        raise AuditError("audit.policy_matrix does not exist here: run `wardgraph migrate` first")
    rows = [MatrixRow(**{**dict(r), "columns": list(r["columns"]) if r["columns"] else None,
                         "permissive_policies": list(r["permissive_policies"]),
                         "restrictive_policies": list(r["restrictive_policies"])})
            for r in await connection.fetch(FETCH_MATRIX)]
    policies = [Policy(**{**dict(r), "roles": list(r["roles"])})
                for r in await connection.fetch(FETCH_POLICIES, list(AUDITED_SCHEMAS))]
    return Matrix(rows, policies)


# pg_policies prints `(select app.current_tenant_id())` as
# `( SELECT app.current_tenant_id() AS current_tenant_id)`; for reading, print it as written.
_WRAPPED_CALL = re.compile(r"\( SELECT ((?:\w+\.)?\w+\([^()]*\)) AS \w+\)")


def readable(expression: str) -> str:
    """For display: one line, and claims calls as the policy files write them."""
    return _WRAPPED_CALL.sub(r"(select \1)", " ".join(expression.split()))


def grant_mark(row: MatrixRow) -> str:
    return {"yes": "yes", "columns": "cols"}.get(row.granted, "-")


def rls_state(row: MatrixRow) -> str:
    if not row.rls_enabled:
        return "row security OFF"
    return "row security enabled and forced" if row.rls_forced else "row security NOT forced"


@dataclass(frozen=True)
class FilterLine:
    keyword: str  # using | check | or | and | columns
    policy: str
    expression: str


def filter_lines(row: MatrixRow, policies: dict[str, Policy]) -> list[FilterLine]:
    """The lines that explain one cell: its columns, then each policy's part of the filter."""
    lines: list[FilterLine] = []
    if row.columns:
        lines.append(FilterLine("columns", "", ", ".join(row.columns)))
    keywords = [] if row.command == "INSERT" else ["using"]
    if row.command in ("INSERT", "UPDATE"):
        keywords.append("check")
    for keyword in keywords:
        if not row.rls_enabled:
            lines.append(FilterLine(keyword, "", "every row (row security is off)"))
            continue
        permissive = [(name, _expression(policies[name], keyword))
                      for name in row.permissive_policies]
        present = [(name, expression) for name, expression in permissive if expression]
        if not present:
            lines.append(FilterLine(keyword, "", "no row: no permissive policy applies"))
            continue
        for index, (name, expression) in enumerate(present):
            lines.append(FilterLine(keyword if index == 0 else "or", name, readable(expression)))
        for name in row.restrictive_policies:
            restrictive = _expression(policies[name], keyword)
            if restrictive is not None:
                lines.append(FilterLine("and", name, readable(restrictive)))
    return lines


def _expression(policy: Policy, keyword: str) -> str | None:
    return policy.using_expression if keyword == "using" else policy.check_expression


def cell_groups(rows: Iterable[MatrixRow]) -> list[tuple[str, list[str], MatrixRow]]:
    """(command, roles, a representative row) for granted cells, roles with the same columns
    and policies together, in command order and then role order."""
    groups: dict[tuple[object, ...], tuple[str, list[str], MatrixRow]] = {}
    for row in sorted(rows, key=lambda r: COMMANDS.index(r.command)):
        if row.granted == "no":
            continue
        key = (row.command, row.granted, tuple(row.columns or ()),
               tuple(row.permissive_policies), tuple(row.restrictive_policies))
        groups.setdefault(key, (row.command, [], row))[1].append(row.role)
    return list(groups.values())


def render_table(matrix: Matrix) -> str:
    """The matrix for a terminal: per table a role × command grid, then the row filters."""
    role_width = max(len(role) for role in matrix.roles()) + 2
    blocks: list[str] = []
    for table in matrix.tables():
        rows = matrix.rows_of(table)
        policies = matrix.policies_of(table)
        lines = [f"{table}: {rls_state(rows[0])}",
                 ("  " + "role".ljust(role_width) + "".join(c.ljust(8) for c in COMMANDS)
                  ).rstrip()]
        for role in dict.fromkeys(r.role for r in rows):
            marks = {r.command: grant_mark(r) for r in rows if r.role == role}
            lines.append("  " + role.ljust(role_width)
                         + "".join(marks[c].ljust(8) for c in COMMANDS).rstrip())
        for command, roles, row in cell_groups(rows):
            lines.append(f"  {command} by {', '.join(roles)}")
            explained = filter_lines(row, policies)
            width = max((len(line.policy) for line in explained), default=0)
            for line in explained:
                policy = f"{line.policy.ljust(width)}  " if line.policy else ""
                lines.append(f"    {line.keyword.ljust(8)}{policy}{line.expression}")
        blocks.append("\n".join(lines))
    legend = ("yes: granted on the table; cols: on some columns only; -: not granted. Under each "
              "grant, the rows it reaches:\nany `using`/`check` or `or` policy lets a row through, "
              "and every `and` (restrictive) policy must hold as well.")
    return legend + "\n\n" + "\n\n".join(blocks) + "\n"


def render_json(matrix: Matrix) -> str:
    return json.dumps({"matrix": [asdict(r) for r in matrix.rows],
                       "policies": [asdict(p) for p in matrix.policies]}, indent=2) + "\n"
