"""The live matrix (audit.policy_matrix and `wardgraph policies`): what it says a role may do is
what Postgres lets the role do, and it prints the rules of the policy files."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.factories import admin_fetch
from tests.harness import DatabaseUnderTest
from tests.policy_support import empty_database, migrated_database, rolled_back, run_cli
from wardgraph.migrations.apply import RESET_SQL
from wardgraph.policy_tools import AUDITED_SCHEMAS
from wardgraph.policy_tools.catalog import fetch_snapshot
from wardgraph.policy_tools.connection import connect
from wardgraph.policy_tools.matrix import (
    COMMANDS,
    Matrix,
    MatrixRow,
    fetch_matrix,
    grant_mark,
    readable,
)
from wardgraph.policy_tools.reconstruct import render_sql

REQUEST_ROLES = ("wg_admin", "wg_clinician", "wg_nurse", "wg_billing", "wg_auditor",
                 "wg_partner")


@pytest.fixture(scope="module")
async def scratch(database: DatabaseUnderTest) -> AsyncIterator[str]:
    async with migrated_database(database.admin_url) as url:
        yield url


@pytest.fixture(scope="module")
async def matrix(database: DatabaseUnderTest) -> Matrix:
    connection = await connect(database.admin_url)
    try:
        return await fetch_matrix(connection)
    finally:
        await connection.close()


def cell(matrix: Matrix, table: str, role: str, command: str) -> MatrixRow:
    [row] = [r for r in matrix.rows_of(table) if r.role == role and r.command == command]
    return row


def probe_statement(row: MatrixRow, column: str) -> str:
    """A statement that needs exactly the cell's privilege (on `column`) and touches no row."""
    table = f'"{row.table_schema}"."{row.table_name}"'
    return {
        "SELECT": f'select "{column}" from {table} where false',
        "INSERT": f'insert into {table} ("{column}") select null where false',
        "UPDATE": f'update {table} set "{column}" = null where false',
        "DELETE": f"delete from {table} where false",
    }[row.command]


async def allowed(connection: asyncpg.Connection, role: str, statement: str) -> bool:
    """Whether `role` may run the statement: permission denied or not (always rolled back)."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        await connection.execute("select set_config('role', $1, true)", role)
        await connection.execute(statement)
        return True
    except asyncpg.InsufficientPrivilegeError:
        return False
    finally:
        await transaction.rollback()


async def test_every_cell_of_the_matrix_is_what_postgres_enforces(
    database: DatabaseUnderTest, matrix: Matrix,
) -> None:
    columns_of = {(r["relation"]): list(r["columns"]) for r in await admin_fetch(
        database.admin_url, """
        select c.oid::regclass::text as relation,
               array(select attname::text from pg_attribute
                     where attrelid = c.oid and attnum > 0 and not attisdropped
                     order by attnum) as columns
        from pg_class c where c.relnamespace::regnamespace::text = any($1)""",
        list(AUDITED_SCHEMAS))}
    wrong = []
    connection = await connect(database.admin_url)
    try:
        for row in matrix.rows:
            every = columns_of[row.table]
            granted = every if row.granted == "yes" else (row.columns or [])
            refused = [c for c in every if c not in granted]
            if granted and not await allowed(connection, row.role,
                                             probe_statement(row, granted[0])):
                wrong.append(f"{row.table} {row.role} {row.command} {granted[0]}: refused")
            if refused and await allowed(connection, row.role, probe_statement(row, refused[0])):
                wrong.append(f"{row.table} {row.role} {row.command} {refused[0]}: allowed")
    finally:
        await connection.close()
    assert len(matrix.rows) >= 15 * 9 * 4
    assert wrong == []


@pytest.mark.parametrize("table", ["app.observations", "app.escalations"])
@pytest.mark.parametrize("role", ["wg_billing", "wg_auditor"])
async def test_billing_and_auditors_are_granted_no_vital_signs(
    matrix: Matrix, table: str, role: str,
) -> None:
    assert [r.granted for r in matrix.rows_of(table) if r.role == role] == ["no"] * 4


@pytest.mark.parametrize(("table", "secret"), [
    pytest.param("app.partner_tokens", "token_hash", id="partner-token-hash"),
    pytest.param("app.users", "password_hash", id="password-hash"),
])
@pytest.mark.parametrize("role", REQUEST_ROLES)
async def test_no_request_role_may_read_a_credential(
    matrix: Matrix, table: str, secret: str, role: str,
) -> None:
    row = cell(matrix, table, role, "SELECT")
    assert row.granted in ("no", "columns")
    assert secret not in (row.columns or [])


@pytest.mark.parametrize("table", ["app.patients", "app.admissions", "app.bed_stays",
                                   "app.observations", "app.escalations", "app.bed_days"])
async def test_partner_reads_patient_data_only_with_a_scope(matrix: Matrix, table: str) -> None:
    row = cell(matrix, table, "wg_partner", "SELECT")
    assert row.granted != "no"
    assert row.using_expression is not None
    assert "(select app.has_scope(" in readable(row.using_expression)


# A table of the test's own, so the expected filters depend on nothing another file may change.
PROBE_TABLE = """
create table app.probe (tenant_id uuid, id uuid, primary key (tenant_id, id));
alter table app.probe enable row level security;
alter table app.probe force row level security;
grant select on app.probe to wg_nurse, wg_partner, wg_authenticator;
create policy probe_same_tenant on app.probe as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()));
"""


async def probe_cell(scratch: str, statements: str, role: str) -> MatrixRow:
    async with rolled_back(scratch) as connection:
        await connection.execute(PROBE_TABLE + statements)
        return cell(await fetch_matrix(connection), "app.probe", role, "SELECT")


async def test_several_permissive_policies_are_alternatives_under_the_restrictive_ones(
    scratch: str,
) -> None:
    row = await probe_cell(scratch, """
        create policy probe_a on app.probe for select to wg_nurse using (id is null);
        create policy probe_b on app.probe for select to wg_nurse using (id is not null);
        """, "wg_nurse")
    assert (row.permissive_policies, row.restrictive_policies) == (
        ["probe_a", "probe_b"], ["probe_same_tenant"])
    assert row.using_expression is not None
    assert readable(row.using_expression) == (
        "((id IS NULL) OR (id IS NOT NULL)) AND (tenant_id = (select app.current_tenant_id()))")


async def test_a_policy_to_a_group_binds_its_members_only(scratch: str) -> None:
    statements = "create policy probe_all on app.probe for select to public using (true);"
    member = await probe_cell(scratch, statements, "wg_partner")
    outsider = await probe_cell(scratch, statements, "wg_authenticator")
    assert member.restrictive_policies == ["probe_same_tenant"]
    assert (outsider.restrictive_policies, outsider.using_expression) == ([], "true")


async def test_a_grant_without_a_permissive_policy_reaches_no_row(scratch: str) -> None:
    row = await probe_cell(scratch, "", "wg_nurse")
    assert (row.granted, row.permissive_policies) == ("yes", [])
    assert row.using_expression is not None
    assert readable(row.using_expression) == (
        "false AND (tenant_id = (select app.current_tenant_id()))")


async def test_a_table_without_row_security_shows_every_row(scratch: str) -> None:
    row = await probe_cell(scratch, "alter table app.probe disable row level security;",
                           "wg_nurse")
    assert (row.rls_enabled, row.using_expression) == (False, "true")


async def test_auditor_reads_the_policy_matrix_in_psql_and_a_nurse_cannot(
    database: DatabaseUnderTest,
) -> None:
    connection = await connect(database.admin_url)
    try:
        assert await allowed(connection, "wg_auditor", "select * from audit.policy_matrix")
        assert not await allowed(connection, "wg_nurse", "select * from audit.policy_matrix")
    finally:
        await connection.close()


def block_of(output: str, table: str) -> list[str]:
    blocks = {b.splitlines()[0].split(":")[0]: b.splitlines() for b in output.split("\n\n")}
    return blocks[table]


async def test_policies_cli_prints_the_observations_matrix_as_a_table(
    database: DatabaseUnderTest, matrix: Matrix,
) -> None:
    result = await run_cli("policies", admin_url=database.admin_url, api_url=database.api_url)
    assert result.returncode == 0, result.stderr
    block = block_of(result.stdout, "app.observations")
    assert block[0] == "app.observations: row security enabled and forced"
    roles = len(matrix.roles())
    grid = {line.split()[0]: line.split()[1:] for line in block[2:2 + roles]}
    assert grid == {role: [grant_mark(cell(matrix, "app.observations", role, command))
                           for command in COMMANDS] for role in matrix.roles()}
    assert grid["wg_billing"] == ["-", "-", "-", "-"]
    admin = cell(matrix, "app.observations", "wg_admin", "SELECT")
    assert block[2 + roles] == "  SELECT by wg_admin"
    assert [line.split()[:2] for line in block[3 + roles:5 + roles]] == [
        ["using", admin.permissive_policies[0]], ["and", admin.restrictive_policies[0]]]


async def test_policies_cli_json_is_the_view_row_for_row(database: DatabaseUnderTest) -> None:
    result = await run_cli("policies", "--format", "json", admin_url=database.admin_url)
    assert result.returncode == 0, result.stderr
    rows = await admin_fetch(database.admin_url, "select * from audit.policy_matrix")

    def plain(record: asyncpg.Record) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, list | tuple) else v for k, v in record.items()}

    assert json.loads(result.stdout)["matrix"] == [plain(r) for r in rows]


async def test_policies_cli_sql_rebuilds_the_grants_and_policies_it_was_read_from(
    database: DatabaseUnderTest, scratch: str,
) -> None:
    result = await run_cli("policies", "--format", "sql", admin_url=scratch)
    assert result.returncode == 0, result.stderr
    async with rolled_back(scratch) as connection:
        assert await render_sql(connection) == result.stdout
        before = await fetch_snapshot(connection, AUDITED_SCHEMAS)
        await connection.execute(RESET_SQL)  # every policy and grant of the wg_* roles gone
        assert await fetch_snapshot(connection, AUDITED_SCHEMAS) != before
        await connection.execute(result.stdout)
        assert await fetch_snapshot(connection, AUDITED_SCHEMAS) == before


async def test_policies_cli_on_an_unmigrated_database_says_to_migrate(
    database: DatabaseUnderTest,
) -> None:
    async with empty_database(database.admin_url) as url:
        result = await run_cli("policies", admin_url=url)
    assert (result.returncode, result.stdout) == (2, "")
    assert "run `wardgraph migrate` first" in result.stderr
