"""Security lints: the live test database has no finding, and each lint does find the problem it
is for (shown in a scratch database, in a transaction that is rolled back)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.harness import DatabaseUnderTest
from tests.policy_support import migrated_database, rolled_back, run_cli
from wardgraph.ops.policy_tools.connection import connect
from wardgraph.ops.policy_tools.lint import LINTS, UNRESTRICTED_ROLES, Lint, run_lint

LINTS_BY_NAME = {lint.name: lint for lint in LINTS}


@pytest.fixture(scope="module")
async def scratch(database: DatabaseUnderTest) -> AsyncIterator[str]:
    async with migrated_database(database.admin_url) as url:
        yield url


@pytest.mark.parametrize("lint", [pytest.param(lint, id=lint.name) for lint in LINTS])
async def test_live_database_has_no_finding(database: DatabaseUnderTest, lint: Lint) -> None:
    connection = await connect(database.admin_url)
    try:
        findings = await run_lint(connection, lint)
    finally:
        await connection.close()
    assert [f.render() for f in findings] == []


PROBLEMS = [
    pytest.param("table-without-forced-rls",
                 "create table app.probe (tenant_id uuid, id uuid, primary key (tenant_id, id))",
                 "app.probe", id="new-table-without-rls"),
    pytest.param("table-without-forced-rls",
                 "alter table app.wards no force row level security", "app.wards",
                 id="rls-not-forced"),
    pytest.param("policy-on-table-without-rls",
                 "alter table app.wards disable row level security",
                 "app.wards wards_same_tenant", id="policy-on-table-with-rls-off"),
    pytest.param("permissive-true-for-restricted-role",
                 "create policy probe on app.patients for select to wg_nurse using (true)",
                 "app.patients probe", id="nurse-sees-every-patient"),
    pytest.param("permissive-true-for-restricted-role",
                 "create policy probe on app.observations for insert to wg_partner "
                 "with check (true)", "app.observations probe", id="partner-writes-anything"),
    pytest.param("permissive-true-for-restricted-role",
                 "create policy probe on app.wards to public using (true)",
                 "app.wards probe", id="public-sees-every-ward"),
    pytest.param("view-without-security-invoker",
                 "create view app.probe as select id from app.patients", "app.probe",
                 id="owner-rights-view"),
    pytest.param("security-definer-without-search-path",
                 "create function app.probe() returns int language sql security definer "
                 "as 'select 1'", "app.probe()", id="definer-without-search-path"),
    pytest.param("security-definer-without-search-path",
                 "create function app.probe() returns int language sql security definer "
                 "set search_path = public, pg_catalog as 'select 1'", "app.probe()",
                 id="definer-with-public-first"),
    pytest.param("function-executable-by-public",
                 "grant execute on function app.has_scope(text) to public",
                 "app.has_scope(text)", id="public-executes-claims-function"),
    pytest.param("foreign-key-without-index",
                 "create table app.probe (tenant_id uuid, id uuid, ward_id uuid, "
                 "primary key (tenant_id, id), constraint probe_ward foreign key "
                 "(tenant_id, ward_id) references app.wards (tenant_id, id))",
                 "app.probe probe_ward", id="unindexed-foreign-key"),
    pytest.param("policy-reads-setting-directly",
                 "alter policy patients_same_tenant on app.patients "
                 "using (tenant_id = current_setting('wg.tenant_id')::uuid)",
                 "app.patients patients_same_tenant", id="current-setting-in-policy"),
    pytest.param("policy-claim-call-not-wrapped",
                 "alter policy patients_same_tenant on app.patients "
                 "using (tenant_id = app.current_tenant_id())",
                 "app.patients patients_same_tenant", id="claim-call-per-row"),
    pytest.param("policy-claim-call-not-wrapped",
                 "alter policy observations_partner_needs_scope on app.observations "
                 "using (app.has_scope('observations:read') and facility_id = any "
                 "((select app.current_facility_ids())::uuid[]))",
                 "app.observations observations_partner_needs_scope",
                 id="scope-call-per-row-beside-a-wrapped-one"),
]


@pytest.mark.parametrize(("lint_name", "statement", "offender"), PROBLEMS)
async def test_lint_finds_the_problem_it_is_for(
    scratch: str, lint_name: str, statement: str, offender: str,
) -> None:
    lint = LINTS_BY_NAME[lint_name]
    async with rolled_back(scratch) as connection:
        assert await run_lint(connection, lint) == []
        await connection.execute(statement)
        findings = await run_lint(connection, lint)
    assert offender in [f.object for f in findings]


async def test_every_lint_has_a_problem_it_is_shown_to_find() -> None:
    shown = {param.values[0] for param in PROBLEMS}
    assert shown == set(LINTS_BY_NAME)


async def test_tenant_wide_roles_may_have_a_true_policy(scratch: str) -> None:
    lint = LINTS_BY_NAME["permissive-true-for-restricted-role"]
    async with rolled_back(scratch) as connection:
        await connection.execute(
            "create policy probe on app.patients for select to "
            + ", ".join(UNRESTRICTED_ROLES) + " using (true)")
        assert await run_lint(connection, lint) == []


async def test_policies_lint_cli_exits_0_on_the_test_database(
    database: DatabaseUnderTest,
) -> None:
    result = await run_cli("policies", "--lint", admin_url=database.admin_url,
                           api_url=database.api_url)
    assert (result.returncode, result.stdout) == (0, f"no findings: {len(LINTS)} lints passed\n")


async def test_policies_lint_cli_exits_1_and_names_each_finding(
    database: DatabaseUnderTest,
) -> None:
    async with migrated_database(database.admin_url) as url:
        connection = await connect(url)
        try:
            await connection.execute(
                "create policy probe on app.patients for select to wg_nurse using (true)")
        finally:
            await connection.close()
        result = await run_cli("policies", "--lint", admin_url=url)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "permissive-true-for-restricted-role: app.patients probe: permissive SELECT policy "
        "with USING (true) for wg_nurse",
        "",
        "1 finding",
    ]
