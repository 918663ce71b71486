"""Planned queries answer exactly what the general executor answers: the same data, the same
errors and the same audit events, for every caller; and they hand over to the general executor
whenever a document or an answer is outside what a plan reproduces.

Each document runs twice in-process on the live database, on two schemas that differ only in
the PlannedQueries extension, each in a transaction of its own that is rolled back.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from tests.dashboard import DASHBOARD, PATIENT_SEARCH, Ward, occupied_ward
from tests.factories import TenantKit
from tests.harness import Api
from tests.in_process import Answer, answer, ward_variables
from wardgraph import ids
from wardgraph.auth.claims import Role
from wardgraph.pipeline.planned.compile import (
    FieldPlan,
    ListOf,
    NonNull,
    NotPlannable,
    ObjectPlan,
    compile_operation,
)
from wardgraph.pipeline.planned.run import NotPlanned, _leaf
from wardgraph.schema import build_schema

ALIASES_AND_FRAGMENTS = """
fragment BedCard on Bed { label currentAdmission { number patient { ...Who } } }
fragment Who on Patient { familyName mrn }
query Aliased($ward: ID!) {
  first: ward(id: $ward) {
    __typename kind: __typename title: name
    beds { ...BedCard ... on Node { id } ... on Bed { label ward { name } } }
  }
  again: ward(id: $ward) { name dailyRate { amount currency } facility { code timezone } }
}"""

SEARCH_WITH_LITERALS = """
query { patients(first: 3, search: "pat") { edges { cursor node { id familyName } }
  pageInfo { hasNextPage endCursor } } }"""

DIRECTIVE = """
query($ward: ID!, $show: Boolean!) { ward(id: $ward) { name beds @include(if: $show) { id } } }"""

NODE = """query($ward: ID!) { node(id: $ward) { id ... on Ward { name } } }"""

VIEWER = """query { viewer { role tenant { slug } facilities { code } } }"""


@dataclass
class Case:
    name: str
    query: str
    variables: Callable[[Ward], dict[str, Any]]
    planned: bool  # whether the plan answers it for a nurse of the ward's facility


CASES = [
    Case("dashboard", DASHBOARD, ward_variables, True),
    Case("aliases and fragments", ALIASES_AND_FRAGMENTS, ward_variables, True),
    Case("search", PATIENT_SEARCH, lambda _: {"search": "Pat", "first": 2}, True),
    Case("literal arguments", SEARCH_WITH_LITERALS, lambda _: {}, True),
    Case("unknown ward", DASHBOARD, lambda _: {"ward": ids.encode("Ward", uuid.uuid4())}, False),
    Case("malformed id", DASHBOARD, lambda _: {"ward": "not-an-id"}, False),
    Case("variables that do not coerce", DASHBOARD, lambda _: {"ward": 7}, False),
    Case("directive", DIRECTIVE, lambda w: {"ward": w.ward_id, "show": True}, False),
    Case("interface field", NODE, ward_variables, False),
    Case("viewer", VIEWER, lambda _: {}, True),
]


@pytest.fixture
async def ward(tenant: TenantKit) -> Ward:
    return await occupied_ward(tenant, 4)


async def both(pool: asyncpg.Pool, token: str, query: str,
               variables: dict[str, Any]) -> tuple[Answer, Answer]:
    return (await answer(pool, False, token, query, variables),
            await answer(pool, True, token, query, variables))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
async def test_a_planned_answer_equals_the_general_executors(
    pool: asyncpg.Pool, ward: Ward, case: Case
) -> None:
    general, planned = await both(pool, ward.nurse, case.query, case.variables(ward))
    assert planned.data == general.data
    assert planned.errors == general.errors
    assert planned.audit == general.audit
    assert general.planned is False
    assert planned.planned is case.planned


async def test_the_dashboard_plan_reads_every_bed_and_audits_every_patient(
    pool: asyncpg.Pool, ward: Ward
) -> None:
    planned = await answer(pool, True, ward.nurse, DASHBOARD, ward_variables(ward))
    beds = planned.data["ward"]["beds"]
    assert planned.planned and len(beds) == 4
    patients = {b["currentAdmission"]["patient"]["id"] for b in beds}
    audited = {ids.encode("Patient", e.object_id) for e in planned.audit
               if e.object_type == "Patient"}
    assert audited == patients
    assert {b["currentAdmission"]["patient"]["latestObservation"]["pulse"] for b in beds} == {118}


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.BILLING,
                                  Role.AUDITOR], ids=lambda r: r.value)
async def test_every_role_gets_the_same_dashboard_either_way(
    pool: asyncpg.Pool, tenant: TenantKit, ward: Ward, role: Role
) -> None:
    token = await tenant.user(role, [tenant.facilities["DHK"]])
    general, planned = await both(pool, token, DASHBOARD, ward_variables(ward))
    assert (planned.data, planned.errors, planned.audit) == (
        general.data, general.errors, general.audit)
    # A refusal is the general executor's to word; whatever it answers cleanly, the plan does.
    assert planned.planned is (not general.errors)


@pytest.mark.parametrize("scopes", [["patients:read", "admissions:read", "observations:read"],
                                    ["patients:read"], []], ids=["all", "patients", "none"])
async def test_partners_get_the_same_dashboard_either_way(
    pool: asyncpg.Pool, tenant: TenantKit, ward: Ward, scopes: list[str]
) -> None:
    token = await tenant.partner(scopes, [tenant.facilities["DHK"]])
    general, planned = await both(pool, token, DASHBOARD, ward_variables(ward))
    assert (planned.data, planned.errors, planned.audit) == (
        general.data, general.errors, general.audit)


async def test_another_tenants_ward_is_not_found_either_way(
    pool: asyncpg.Pool, ward: Ward, other_tenant: TenantKit
) -> None:
    stranger = await other_tenant.user(Role.NURSE, [other_tenant.facilities["DHK"]])
    general, planned = await both(pool, stranger, DASHBOARD, ward_variables(ward))
    assert planned.data == general.data == {"ward": None}
    assert [code for _, _, code in planned.errors] == ["NOT_FOUND"]
    assert planned.errors == general.errors and planned.audit == general.audit == Counter()


async def test_the_dashboard_over_http_matches_in_process(
    api: Api, pool: asyncpg.Pool, ward: Ward
) -> None:
    over_http = await api.data(DASHBOARD, ward_variables(ward), ward.nurse)
    in_process = await answer(pool, True, ward.nurse, DASHBOARD, ward_variables(ward))
    assert in_process.planned and over_http == in_process.data


@pytest.mark.parametrize("document", [
    "mutation { __typename }",
    "subscription { news2Alerts { observationId } }",
    "query { __schema { queryType { name } } }",
    DIRECTIVE,
    NODE,
], ids=["mutation", "subscription", "introspection", "directive", "interface"])
def test_what_a_plan_does_not_reproduce_is_not_planned(document: str) -> None:
    from graphql import parse

    with pytest.raises(NotPlannable):
        compile_operation(build_schema()._schema, parse(document), None)


async def test_a_partner_reading_its_token_and_patients_gets_the_same_answer_either_way(
    pool: asyncpg.Pool, tenant: TenantKit, ward: Ward
) -> None:
    token = await tenant.partner(["patients:read"], [tenant.facilities["DHK"]])
    query = "{ viewer { partnerToken { id } } patients { edges { node { id } } } }"
    general, planned = await both(pool, token, query, {})
    assert (planned.data, planned.errors, planned.audit) == (
        general.data, general.errors, general.audit)
    assert planned.planned and not planned.errors


async def test_a_database_error_in_a_plan_leaves_the_general_executor_a_fresh_transaction(
    pool: asyncpg.Pool, ward: Ward, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A statement that fails aborts the transaction; the plan hands over, and the general
    executor answers from a new transaction as if the plan had never run."""
    from wardgraph.db import organisation
    from wardgraph.db.session import Session

    shipped = organisation.fetch_wards_with_facility_by_id
    failures: list[str] = []

    async def fails_the_first_time(session: Session, *args: Any) -> list[asyncpg.Record]:
        if not failures:
            failures.append("division by zero")
            await session.fetch("select 1 / 0")  # a real error: the transaction is aborted
        return await shipped(session, *args)

    general = await answer(pool, False, ward.nurse, DASHBOARD, ward_variables(ward))
    monkeypatch.setattr(organisation, "fetch_wards_with_facility_by_id", fails_the_first_time)
    planned = await answer(pool, True, ward.nurse, DASHBOARD, ward_variables(ward))
    assert failures and planned.planned is False
    assert (planned.data, planned.errors, planned.audit) == (
        general.data, general.errors, general.audit)
    assert len(general.data["ward"]["beds"]) == 4


def field_plan(plan: ObjectPlan, *keys: str) -> FieldPlan:
    """The plan of the field at these response keys, through lists and non-nulls."""
    found: FieldPlan | None = None
    current: Any = plan
    for key in keys:
        while isinstance(current, NonNull | ListOf):
            current = current.inner if isinstance(current, NonNull) else current.item
        found = next(f for f in current.fields if f.key == key)
        current = found.type_plan
    assert found is not None
    return found


@pytest.mark.parametrize(("keys", "value", "served"), [
    (("beds", "label"), "A-1", "A-1"),
    (("beds", "currentAdmission", "patient", "latestObservation", "pulse"), 2**31 - 1, 2**31 - 1),
    (("beds", "currentAdmission", "patient", "latestObservation", "onOxygen"), False, False),
], ids=["string", "largest-int", "boolean"])
def test_a_value_that_serialises_to_itself_is_served_as_it_is(
    keys: tuple[str, ...], value: Any, served: Any
) -> None:
    from graphql import parse

    plan = compile_operation(build_schema()._schema, parse(DASHBOARD), None)
    field = field_plan(plan.root, "ward", *keys)
    assert _leaf(field, value) == served and type(_leaf(field, value)) is type(served)


@pytest.mark.parametrize("value", [2**31, -(2**31) - 1], ids=["above", "below"])
def test_an_int_beyond_32_bits_is_left_to_the_general_executor(value: int) -> None:
    from graphql import parse

    plan = compile_operation(build_schema()._schema, parse(DASHBOARD), None)
    pulse = field_plan(plan.root, "ward", "beds", "currentAdmission", "patient",
                       "latestObservation", "pulse")
    with pytest.raises(NotPlanned):
        _leaf(pulse, value)
