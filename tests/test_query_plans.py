"""The policies stay cheap: the statements of the ward dashboard, patient search and recording
an observation, planned as the API's role with a nurse's claims set, find their rows through
indexes that lead with tenant_id — no sequential scan of a large table — and read the claims
once per statement (an InitPlan), never once per row.

The statements are the ones the resolvers really send (captured from an in-process run of
each operation), planned with their real arguments both ways Postgres may plan a prepared
statement: a custom plan for those arguments, and the generic plan asyncpg's statement cache
ends up reusing. The dataset is seeded set-based (tests/seeding.py) and ANALYZEd first, large
enough that the planner prefers an index wherever one serves.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery

from tests.dashboard import DASHBOARD, PATIENT_SEARCH, RECORD_OBSERVATION
from tests.harness import DatabaseUnderTest, settings_for_tests
from tests.observing import vitals
from tests.seeding import Seeded, Shape, seed
from tests.sql_roles import claimed
from wardgraph import ids
from wardgraph.auth.claims import Claims, Role
from wardgraph.context import AppState, RequestContext
from wardgraph.db.session import SET_CLAIMS
from wardgraph.schema import build_schema

# 10 tenants x 2 facilities x 50 patients x 20 observations: 20,000 observations; 1,000 each of
# patients, admissions, bed stays and beds.
SHAPE = Shape(name="", tenants=10, facilities=2, wards=2, beds=25, patients=50, observations=20)
# A table this large is never read whole: each tenant holds a tenth of it.
LARGE_TABLES = ("observations", "patients", "admissions", "bed_stays", "beds")
# What the claims functions inline to; seen in a per-row filter, the claims are read per row.
CLAIM_READS = ("current_setting(", "current_tenant_id(", "current_facility_ids(",
               "current_user_id(", "current_scopes(", "current_partner_token_id(")
PLAN_MODES = [pytest.param("force_custom_plan", id="custom-plan"),
              pytest.param("force_generic_plan", id="generic-plan")]


@dataclass(frozen=True)
class Statement:
    sql: str
    args: tuple[Any, ...]


@pytest.fixture(scope="module")
async def seeded(database: DatabaseUnderTest) -> Seeded:
    connection = await asyncpg.connect(database.admin_url)
    try:
        return await seed(connection, replace(SHAPE, name=f"plans{secrets.token_hex(4)}"))
    finally:
        await connection.close()


@pytest.fixture(scope="module")
def nurse(seeded: Seeded) -> Claims:
    """The nurse of tenant 1's facility 1."""
    return Claims(tenant_id=seeded.tenant_id(1), role=Role.NURSE,
                  user_id=seeded.nurse_id(1, 1), facility_ids=(seeded.facility_id(1, 1),))


async def statements_of(database: DatabaseUnderTest, claims: Claims, query: str,
                        variables: dict[str, Any]) -> list[Statement]:
    """The statements of app tables one operation sends (not BEGIN, the claims, COMMIT or
    asyncpg's own look-ups of the types it decodes), run in-process on the real schema and
    database, and rolled back."""
    sent: list[LoggedQuery] = []

    async def listen(connection: asyncpg.Connection) -> None:
        connection.add_query_logger(sent.append)

    pool = await asyncpg.create_pool(database.api_url, min_size=1, max_size=1, init=listen)
    try:
        context = RequestContext(state=AppState(settings_for_tests(), pool), claims=claims)
        result = await build_schema().execute(query, variables, context_value=context)
        assert result.errors is None, result.errors
        await context.finish(commit=False)
    finally:
        await pool.close()
    return [Statement(q.query, tuple(q.args)) for q in sent
            if "app." in q.query and q.query != SET_CLAIMS]


@pytest.fixture
async def as_nurse(database: DatabaseUnderTest, nurse: Claims
                   ) -> AsyncIterator[asyncpg.Connection]:
    """A connection of the API's login role inside a transaction with the nurse's claims."""
    async with claimed(database.api_url, nurse, request_id="plans") as connection:
        yield connection


async def plan_of(connection: asyncpg.Connection, statement: Statement,
                  mode: str) -> dict[str, Any]:
    """The plan Postgres makes for the statement when prepared, in the given plan_cache_mode."""
    await connection.execute(f"set local plan_cache_mode = {mode}")
    name = f"plan_{secrets.token_hex(4)}"
    await connection.execute(f"prepare {name} as {statement.sql}")
    arguments = ", ".join(literal(a) for a in statement.args)
    text = await connection.fetchval(f"explain (format json) execute {name}({arguments})")
    await connection.execute(f"deallocate {name}")
    plan: dict[str, Any] = json.loads(text)[0]["Plan"]
    return plan


def literal(value: Any) -> str:
    """A statement argument as an SQL literal (EXECUTE takes no bind parameters); Postgres
    casts it to the prepared parameter's type."""
    if value is None:
        return "null"
    if isinstance(value, list | tuple):
        return "'{" + ",".join(_element(v) for v in value).replace("'", "''") + "}'"
    return "'" + _text(value).replace("'", "''") + "'"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _element(value: Any) -> str:
    if value is None:
        return "NULL"
    return '"' + _text(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def nodes(plan: dict[str, Any], per_row: bool = True) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every node of a plan, with whether it runs per row (False inside an InitPlan)."""
    yield plan, per_row
    for child in plan.get("Plans", ()):
        yield from nodes(child, per_row and child.get("Parent Relationship") != "InitPlan")


def sequential_scans_of_large_tables(plan: dict[str, Any]) -> list[str]:
    return [node["Relation Name"] for node, _ in nodes(plan)
            if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in LARGE_TABLES]


def per_row_claim_reads(plan: dict[str, Any]) -> list[str]:
    conditions = ("Filter", "Index Cond", "Recheck Cond", "Join Filter", "Hash Cond")
    return [f"{node['Node Type']}: {node[key]}" for node, per_row in nodes(plan) if per_row
            for key in conditions if key in node and any(c in node[key] for c in CLAIM_READS)]


async def dashboard_statements(database: DatabaseUnderTest, seeded: Seeded,
                               nurse: Claims) -> list[Statement]:
    ward = ids.encode("Ward", seeded.ward_id(1, 1, 1))
    return await statements_of(database, nurse, DASHBOARD, {"ward": ward})


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_dashboard_statements_scan_no_large_table_sequentially(
    database: DatabaseUnderTest, seeded: Seeded, nurse: Claims,
    as_nurse: asyncpg.Connection, mode: str
) -> None:
    statements = await dashboard_statements(database, seeded, nurse)
    assert len(statements) == 2  # the ward, its beds with their occupants
    for statement in statements:
        plan = await plan_of(as_nurse, statement, mode)
        assert sequential_scans_of_large_tables(plan) == [], (statement.sql, plan)


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_dashboard_statements_read_the_claims_once_not_per_row(
    database: DatabaseUnderTest, seeded: Seeded, nurse: Claims,
    as_nurse: asyncpg.Connection, mode: str
) -> None:
    for statement in await dashboard_statements(database, seeded, nurse):
        plan = await plan_of(as_nurse, statement, mode)
        assert per_row_claim_reads(plan) == [], (statement.sql, plan)


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_patient_search_scans_no_large_table_sequentially(
    database: DatabaseUnderTest, nurse: Claims, as_nurse: asyncpg.Connection, mode: str
) -> None:
    statements = await statements_of(database, nurse, PATIENT_SEARCH,
                                     {"search": "rah", "first": 20})
    assert len(statements) == 1
    plan = await plan_of(as_nurse, statements[0], mode)
    assert sequential_scans_of_large_tables(plan) == [], plan
    assert per_row_claim_reads(plan) == [], plan


@pytest.mark.parametrize("mode", PLAN_MODES)
async def test_recording_an_observation_scans_no_large_table_sequentially(
    database: DatabaseUnderTest, seeded: Seeded, nurse: Claims,
    as_nurse: asyncpg.Connection, mode: str
) -> None:
    patient = ids.encode("Patient", seeded.patient_id(1, 1, 1))
    statements = await statements_of(database, nurse, RECORD_OBSERVATION,
                                     {"input": {"patientId": patient, **vitals()}})
    assert statements
    for statement in statements:
        plan = await plan_of(as_nurse, statement, mode)
        assert sequential_scans_of_large_tables(plan) == [], (statement.sql, plan)
        assert per_row_claim_reads(plan) == [], (statement.sql, plan)
