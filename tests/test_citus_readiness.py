"""The schema is ready to be distributed by tenant (Citus): the live catalog passes every
Citus lint, and each lint finds the problem it is for (shown in a transaction that is rolled
back)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.harness import DatabaseUnderTest
from tests.policy_support import rolled_back
from wardgraph.ops.policy_tools import AUDITED_SCHEMAS
from wardgraph.ops.policy_tools.citus import (
    CITUS_LINTS,
    DISTRIBUTION_COLUMN,
    REFERENCE_TABLES,
    TABLES,
    joins_without_tenant,
    run_citus_lints,
)
from wardgraph.ops.policy_tools.connection import connect


async def test_live_database_is_ready_to_distribute_by_tenant(
    database: DatabaseUnderTest,
) -> None:
    connection = await connect(database.admin_url)
    try:
        findings = await run_citus_lints(connection)
    finally:
        await connection.close()
    assert [f.render() for f in findings] == []


async def test_reference_tables_exist(database: DatabaseUnderTest) -> None:
    connection = await connect(database.admin_url)
    try:
        for name in REFERENCE_TABLES:
            assert await connection.fetchval("select to_regclass($1)", name) is not None, name
    finally:
        await connection.close()


PROBLEMS = [
    pytest.param("citus-table-not-distributable",
                 "create table app.probe (id uuid primary key)", "app.probe",
                 id="table-without-tenant"),
    pytest.param("citus-table-not-distributable",
                 "create table app.probe (tenant_id uuid, id uuid primary key)", "app.probe",
                 id="nullable-tenant"),
    pytest.param("citus-key-without-tenant",
                 # A table of its own: ward names repeat across tenants in the shared data.
                 "create table app.probe (tenant_id uuid not null, id uuid not null, "
                 "code text, primary key (tenant_id, id)); "
                 "create unique index probe_key on app.probe (code)", "app.probe probe_key",
                 id="unique-index-without-tenant"),
    pytest.param("citus-key-without-tenant",
                 "alter table app.beds add constraint probe_key unique (label, ward_id)",
                 "app.beds probe_key", id="unique-constraint-without-tenant"),
    pytest.param("citus-key-without-tenant",
                 "create unique index probe_key on app.admissions (bed_id) "
                 "where discharged_at is null", "app.admissions probe_key",
                 id="partial-unique-index-without-tenant"),
    pytest.param("citus-key-without-tenant",
                 "alter table app.bed_stays add constraint probe_key exclude using gist "
                 "(bed_id with =, tstzrange(started_at, ended_at) with &&)",
                 "app.bed_stays probe_key", id="exclusion-without-tenant"),
    pytest.param("citus-key-without-tenant",
                 "alter table app.bed_stays add constraint probe_key exclude using gist "
                 "(tenant_id with <>, bed_id with =)",
                 "app.bed_stays probe_key", id="exclusion-across-tenants"),
    pytest.param("citus-foreign-key-across-shards",
                 "create table app.probe (tenant_id uuid not null, id uuid not null, "
                 "ward_tenant uuid, ward_id uuid, primary key (tenant_id, id), "
                 "constraint probe_ward foreign key (ward_tenant, ward_id) "
                 "references app.wards (tenant_id, id))",
                 "app.probe probe_ward", id="foreign-key-to-another-tenant"),
    pytest.param("citus-foreign-key-across-shards",
                 "alter table platform.tenants add column first_user uuid, "
                 "add constraint probe_user foreign key (tenant_id, first_user) "
                 "references app.users (tenant_id, id)",
                 "platform.tenants probe_user", id="reference-table-to-distributed"),
    pytest.param("citus-policy-joins-across-tenants",
                 "create policy probe on app.observations for select to wg_nurse using "
                 "(exists (select 1 from app.patients p where p.id = patient_id))",
                 "app.observations probe", id="policy-reads-patients-by-id-alone"),
    pytest.param("citus-function-joins-across-tenants",
                 "create function app.probe() returns bigint language sql as $$ "
                 "select count(*) from app.admissions a "
                 "join app.patients p on p.id = a.patient_id $$",
                 "app.probe()", id="function-joins-by-id-alone"),
]


@pytest.mark.parametrize(("lint_name", "statement", "offender"), PROBLEMS)
async def test_citus_lint_finds_the_problem_it_is_for(
    database: DatabaseUnderTest, lint_name: str, statement: str, offender: str,
) -> None:
    async with rolled_back(database.admin_url) as connection:
        await connection.execute(statement)
        findings = await run_citus_lints(connection)
    assert [f.object for f in findings if f.lint == lint_name] == [offender]


def test_every_citus_lint_has_a_problem_it_is_shown_to_find() -> None:
    assert {param.values[0] for param in PROBLEMS} == {lint.name for lint in CITUS_LINTS}


DISTRIBUTED = {"app.admissions", "app.patients"}


@pytest.mark.parametrize("body", [
    pytest.param("select 1 from app.admissions a join app.patients p "
                 "on p.tenant_id = a.tenant_id and p.id = a.patient_id", id="on-tenant"),
    pytest.param("select 1 from app.admissions a join app.patients p "
                 "using (tenant_id, id)", id="using-tenant"),
    pytest.param("select 1 from app.admissions a cross join lateral generate_series(1, 2)",
                 id="lateral-function"),
    pytest.param("select 1 from app.admissions a join platform.tenants t on t.slug = 'x'",
                 id="reference-table"),
])
def test_function_joins_that_keep_to_one_tenant_pass(body: str) -> None:
    assert joins_without_tenant(body, DISTRIBUTED) == []


@pytest.mark.parametrize("body", [
    pytest.param("select 1 from app.admissions a join app.patients p using (id)",
                 id="using-id"),
    pytest.param("select 1 from app.admissions a\n  JOIN app.patients AS p\n"
                 "  ON p.id = a.patient_id -- not tenant_id\n where a.tenant_id = $1",
                 id="tenant-only-in-a-comment-and-the-where"),
    pytest.param("select (select 1 from app.admissions a join app.patients p "
                 "on p.id = a.patient_id) as n", id="inside-a-subquery"),
])
def test_function_join_without_tenant_is_found(body: str) -> None:
    assert joins_without_tenant(body, DISTRIBUTED) == ["app.patients"]


SCALING = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
CALL = re.compile(r"select (create_distributed_table|create_reference_table)\('([a-z_.]+)'")


async def test_scaling_plan_distributes_every_table_after_those_it_refers_to(
    database: DatabaseUnderTest,
) -> None:
    calls = CALL.findall(SCALING.read_text(encoding="utf-8"))
    order = [table for _, table in calls]
    reference = {table for call, table in calls if call == "create_reference_table"}
    connection = await connect(database.admin_url)
    try:
        tables = {row["name"] for row in await connection.fetch(TABLES, list(AUDITED_SCHEMAS),
                                                                 DISTRIBUTION_COLUMN)}
        references = await connection.fetch("""
            select k.conrelid::regclass::text as source, k.confrelid::regclass::text as target
            from pg_constraint k where k.contype = 'f'
              and k.connamespace::regnamespace::text = any($1::text[])""",
            list(AUDITED_SCHEMAS))
    finally:
        await connection.close()
    assert sorted(order) == sorted(tables) and len(order) == len(set(order))
    assert reference == set(REFERENCE_TABLES)
    for fk in references:
        if fk["source"] != fk["target"]:
            assert order.index(fk["target"]) < order.index(fk["source"]), fk
