"""No drift: the live catalog holds exactly what wardgraph/policies/ defines, and any hand-made
change to it (a policy, a grant, a flag, a function) is reported. Changes are made in scratch
databases created here, never in the session's shared test database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.harness import DatabaseUnderTest
from tests.policy_support import migrated_database, rolled_back, run_cli
from wardgraph.migrations import runner
from wardgraph.ops.policy_tools import AUDITED_SCHEMAS
from wardgraph.ops.policy_tools.catalog import Snapshot, fetch_snapshot
from wardgraph.ops.policy_tools.check import Difference, check, diff, snapshot_of
from wardgraph.ops.policy_tools.connection import connect


@pytest.fixture(scope="module")
async def scratch(database: DatabaseUnderTest) -> AsyncIterator[str]:
    """A migrated database of this module's own; each test changes it in a rolled-back
    transaction."""
    async with migrated_database(database.admin_url) as url:
        yield url


@pytest.fixture(scope="module")
async def scratch_snapshot(scratch: str) -> Snapshot:
    return await snapshot_of(scratch)


async def test_freshly_migrated_database_matches_the_policy_files(
    database: DatabaseUnderTest,
) -> None:
    result = await check(database.admin_url)
    assert result.differences == []
    assert result.compared > 300  # policies, grants, functions, flags: not an empty comparison


async def test_snapshot_covers_every_kind_the_policy_files_decide(
    scratch_snapshot: Snapshot,
) -> None:
    kinds = {kind for kind, _ in scratch_snapshot}
    assert kinds >= {"table", "view", "policy", "privilege", "column privilege",
                     "schema privilege", "function", "function privilege",
                     "default privileges", "trigger", "migration"}


DRIFTS = [
    pytest.param("alter policy observations_admin_reads on app.observations using (false)",
                 ("policy", "app.observations observations_admin_reads", "changed"),
                 id="alter-policy-using"),
    pytest.param("alter policy wards_facility_members on app.wards to wg_clinician",
                 ("policy", "app.wards wards_facility_members", "changed"),
                 id="alter-policy-roles"),
    pytest.param("drop policy patients_partner_needs_scope on app.patients",
                 ("policy", "app.patients patients_partner_needs_scope", "missing"),
                 id="drop-policy"),
    pytest.param("create policy by_hand on app.patients for select to wg_billing using (true)",
                 ("policy", "app.patients by_hand", "unexpected"), id="create-policy"),
    pytest.param("grant select on app.observations to wg_billing",
                 ("privilege", "app.observations to wg_billing SELECT", "unexpected"),
                 id="grant-table"),
    pytest.param("revoke select on app.bed_days from wg_billing",
                 ("privilege", "app.bed_days to wg_billing SELECT", "missing"),
                 id="revoke-table"),
    pytest.param("grant select (password_hash) on app.users to wg_admin",
                 ("column privilege", "app.users(password_hash) to wg_admin SELECT",
                  "unexpected"), id="grant-column"),
    pytest.param("alter table app.patients no force row level security",
                 ("table", "app.patients", "changed"), id="rls-not-forced"),
    pytest.param("alter table app.wards disable row level security",
                 ("table", "app.wards", "changed"), id="rls-disabled"),
    pytest.param("alter function auth.login_lookup(text, text) reset search_path",
                 ("function", "auth.login_lookup(tenant_slug text, login_email text)",
                  "changed"), id="security-definer-search-path"),
    pytest.param("alter function app.local_date(timestamptz, text) security definer",
                 ("function", "app.local_date(at timestamp with time zone, zone text)",
                  "changed"), id="security-definer-flag"),
    pytest.param("alter function app.record_audit_events(jsonb, timestamptz)"
                 " owner to wg_authenticator",
                 ("function", "app.record_audit_events(events jsonb, occurred_at timestamp with"
                  " time zone)", "changed"), id="function-owner"),
    pytest.param("""create or replace function app.has_scope(scope text) returns boolean
                    language sql stable parallel safe set search_path = pg_catalog
                    as $$ select true $$""",
                 ("function", "app.has_scope(scope text)", "changed"), id="function-body"),
    pytest.param("grant execute on function app.current_tenant_id() to public",
                 ("function privilege", "app.current_tenant_id() to PUBLIC EXECUTE",
                  "unexpected"), id="execute-to-public"),
    pytest.param("grant usage on schema auth to wg_partner",
                 ("schema privilege", "auth to wg_partner USAGE", "unexpected"),
                 id="schema-usage"),
    pytest.param("alter view audit.policy_matrix set (security_invoker = false)",
                 ("view", "audit.policy_matrix", "changed"), id="view-not-security-invoker"),
    pytest.param("alter table app.admissions disable trigger admissions_number",
                 ("trigger", "app.admissions admissions_number", "changed"),
                 id="trigger-disabled"),
    pytest.param("alter default privileges grant execute on functions to public",
                 ("default privileges", "(migration role) in every schema on functions",
                  "missing"), id="default-privileges"),
]


@pytest.mark.parametrize(("statement", "expected"), DRIFTS)
async def test_hand_made_change_to_the_catalog_is_reported_as_drift(
    scratch: str, scratch_snapshot: Snapshot, statement: str,
    expected: tuple[str, str, str],
) -> None:
    async with rolled_back(scratch) as connection:
        await connection.execute(statement)
        live = await fetch_snapshot(connection, AUDITED_SCHEMAS)
    found = [(d.kind, d.name, d.change) for d in diff(scratch_snapshot, live)]
    assert found == [expected]


async def test_changed_policy_is_reported_with_the_expected_and_the_live_expression(
    scratch: str, scratch_snapshot: Snapshot,
) -> None:
    async with rolled_back(scratch) as connection:
        await connection.execute(
            "alter policy observations_admin_reads on app.observations using (false)")
        live = await fetch_snapshot(connection, AUDITED_SCHEMAS)
    [difference] = diff(scratch_snapshot, live)
    assert difference.fields == (("using", "true", "false"),)
    assert difference.render().splitlines() == [
        "~ policy app.observations observations_admin_reads: differs",
        "    using:",
        "      expected: true",
        "      live:     false",
    ]


def test_a_changed_function_body_is_shown_as_a_line_diff() -> None:
    expected = {("function", "app.f()"): {"body": "select 1\nfrom a\nwhere x\n"}}
    live = {("function", "app.f()"): {"body": "select 1\nfrom a\nwhere y\n"}}
    [difference] = diff(expected, live)
    assert "      -where x" in difference.render().splitlines()
    assert "      +where y" in difference.render().splitlines()


def test_missing_and_unexpected_entries_say_which_side_holds_them() -> None:
    differences = diff({("policy", "app.t gone"): {}}, {("policy", "app.t new"): {}})
    assert [d.render() for d in differences] == [
        "- policy app.t gone: in the policy files, missing from the live database",
        "+ policy app.t new: in the live database, not in the policy files",
    ]
    assert differences == [Difference("policy", "app.t gone", "missing"),
                           Difference("policy", "app.t new", "unexpected")]


async def test_policies_check_cli_exits_0_on_a_freshly_migrated_database(
    database: DatabaseUnderTest,
) -> None:
    result = await run_cli("policies", "--check", admin_url=database.admin_url,
                           api_url=database.api_url)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("no drift: the live catalog matches the policy files")


async def test_policies_check_cli_exits_1_with_a_readable_diff_after_hand_made_changes(
    database: DatabaseUnderTest,
) -> None:
    async with migrated_database(database.admin_url) as url:
        connection = await connect(url)
        try:
            await connection.execute("""
                alter policy observations_admin_reads on app.observations using (false);
                grant select on app.observations to wg_billing;
                drop policy bed_days_partner_needs_scope on app.bed_days;
            """)
        finally:
            await connection.close()
        result = await run_cli("policies", "--check", admin_url=url)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == [
        "- policy app.bed_days bed_days_partner_needs_scope: in the policy files, missing from "
        "the live database",
        "~ policy app.observations observations_admin_reads: differs",
        "    using:",
        "      expected: true",
        "      live:     false",
        "+ privilege app.observations to wg_billing SELECT: in the live database, not in the "
        "policy files",
        "",
        "3 differences between the live catalog and the policy files (- expected but missing, "
        "+ present but not expected, ~ changed)",
    ]


async def test_check_drops_its_scratch_database(database: DatabaseUnderTest) -> None:
    await check(database.admin_url)
    connection = await connect(database.admin_url)
    try:
        left = await connection.fetchval(
            "select count(*) from pg_database where datname like 'wardgraph_policy_check_%'")
    finally:
        await connection.close()
    assert left == 0


async def test_applying_the_policy_files_again_changes_nothing(
    database: DatabaseUnderTest,
) -> None:
    # Functions created on the first run and replaced on the next must end with the same
    # privileges (a per-schema default privilege once left them executable by PUBLIC at first).
    async with migrated_database(database.admin_url) as url:
        connection = await connect(url)
        try:
            # A different digest makes the next upgrade apply every policy file again.
            await connection.execute("comment on schema app is 'policy files changed'")
        finally:
            await connection.close()
        await asyncio.to_thread(runner.upgrade, url)
        result = await check(url)
    assert result.differences == []
