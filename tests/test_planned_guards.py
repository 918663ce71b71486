"""The planned executor under guard: no plan for a schema whose extensions hook field
resolution (a plan would skip them), and every query the general executor answers instead of
its plan is counted in /metrics with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import asyncpg
import pytest
from strawberry.extensions import SchemaExtension

from tests.dashboard import DASHBOARD, RECORD_OBSERVATION, Ward, occupied_ward
from tests.factories import TenantKit
from tests.harness import Api, settings_for_tests
from tests.serving import metric
from wardgraph import ids
from wardgraph.auth.authenticate import authenticate
from wardgraph.context import AppState, RequestContext
from wardgraph.pipeline.planned import PlannedQueries
from wardgraph.pipeline.planned.extension import RESOLVE_HOOK, hooks_resolve
from wardgraph.schema import build_schema

FALLBACKS = "wardgraph_planned_query_fallbacks_total"
DIRECTIVE = """
query Directed($ward: ID!) { ward(id: $ward) { name beds @skip(if: false) { id } } }"""


class CountsResolutions(SchemaExtension):
    """An extension that wraps every field's resolution (say, tracing)."""

    calls = 0

    def resolve(self, _next: Any, root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        CountsResolutions.calls += 1
        return _next(root, info, *args, **kwargs)


class ObservesOperations(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:
        yield


@pytest.fixture
async def ward(tenant: TenantKit) -> Ward:
    return await occupied_ward(tenant, 2)


async def run(pool: asyncpg.Pool, token: str, *extensions: Any,
              variables: dict[str, Any]) -> RequestContext:
    schema = build_schema(*extensions)
    context = RequestContext(state=AppState(settings_for_tests(), pool))
    await authenticate(context, f"Bearer {token}")
    try:
        result = await schema.execute(DASHBOARD, variables, context_value=context)
    finally:
        await context.finish(commit=False)
    assert result.errors is None
    return context


@pytest.mark.parametrize("hook", [CountsResolutions, partial(CountsResolutions)],
                         ids=["class", "factory"])
async def test_no_plan_runs_when_an_extension_hooks_resolve(
    pool: asyncpg.Pool, ward: Ward, hook: Any
) -> None:
    CountsResolutions.calls = 0
    context = await run(pool, ward.nurse, hook, PlannedQueries,
                        variables={"ward": ward.ward_id})
    assert (context.planned, context.plan_fallback) == (False, RESOLVE_HOOK)
    assert CountsResolutions.calls > 0  # the hook saw every field, as it would without plans


async def test_extensions_that_do_not_hook_resolve_keep_the_plan(
    pool: asyncpg.Pool, ward: Ward
) -> None:
    context = await run(pool, ward.nurse, ObservesOperations, PlannedQueries,
                        variables={"ward": ward.ward_id})
    assert (context.planned, context.plan_fallback) == (True, None)


@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
def test_the_shipped_extensions_hook_no_resolve(production: bool) -> None:
    """Else no query would ever be planned."""
    from dataclasses import replace

    from wardgraph.server.app import extensions_for

    settings = replace(settings_for_tests(), env="production" if production else "development")
    # The store is not called while the extensions are only listed.
    assert not hooks_resolve(build_schema(*extensions_for(settings, None)))  # type: ignore[arg-type]


async def test_a_query_no_plan_compiles_for_is_counted_with_its_reason(
    api: Api, ward: Ward
) -> None:
    before = await metric(api, FALLBACKS, reason="not compiled: directives")
    response = await api.post(DIRECTIVE, {"ward": ward.ward_id}, ward.nurse)
    assert "errors" not in response.json()
    assert await metric(api, FALLBACKS, reason="not compiled: directives") == before + 1


async def test_a_plan_abandoned_for_an_error_is_counted_and_the_error_answered(
    api: Api, ward: Ward
) -> None:
    import uuid

    before = await metric(api, FALLBACKS, reason="abandoned: a resolver raised")
    body = await api.gql(DASHBOARD, {"ward": ids.encode("Ward", uuid.uuid4())}, ward.nurse)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await metric(api, FALLBACKS, reason="abandoned: a resolver raised") == before + 1


async def total_fallbacks(api: Api) -> float:
    text = (await api.client.get("/metrics")).text
    return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
               if line.startswith(FALLBACKS + "{"))


async def test_planned_queries_and_mutations_count_no_fallback(api: Api, ward: Ward,
                                                               tenant: TenantKit) -> None:
    before = await total_fallbacks(api)
    await api.data(DASHBOARD, {"ward": ward.ward_id}, ward.nurse)
    patient = await tenant.patient(tenant.facilities["DHK"])
    await api.data(RECORD_OBSERVATION, {"input": {
        "patientId": patient, "respirationRate": 16, "spo2": 97, "onOxygen": False,
        "systolicBp": 120, "pulse": 70, "consciousness": "ALERT", "temperature": 37.0}},
        ward.nurse)
    assert await total_fallbacks(api) == before
