"""No document costs more than a few milliseconds of CPU before it is answered or refused:
everything that runs before execution (parse, the limits, validation, the literal checks, plan
compilation) is bounded by the document's size.

The generator builds the documents that made such checks slow elsewhere: fragments that each
spread the previous one several times (fan-out), diamonds of fragments, deep nesting, wide
aliases, directive floods, long strings, many variables and the same field repeated. Each is
run through the same pre-execution steps as a request, in this process, and its CPU time
(time.process_time, so other processes on the machine do not count) is held to BUDGET.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass

import httpx
import pytest
from graphql import DocumentNode, GraphQLError, parse, specified_rules, validate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness import LiveServer
from wardgraph.config import Limits
from wardgraph.pipeline.inputs import literals_problem
from wardgraph.pipeline.limits import measure, refusal
from wardgraph.pipeline.planned.compile import NotPlannable, compile_operation
from wardgraph.schema import build_schema

LIMITS = Limits()


@dataclass(frozen=True)
class Budget:
    """CPU seconds a document may take before execution: a constant plus so much per KB."""

    base: float = 0.010
    per_kb: float = 0.002

    def of(self, size: int) -> float:
        return self.base + self.per_kb * size / 1024


BUDGET = Budget()


def pre_execution(text: str) -> str:
    """What a request's document goes through before execution, in the app's order; the
    outcome: refused at parse, by a limit, by validation, by a literal, or ready to run."""
    schema = build_schema()._schema
    try:
        document: DocumentNode = parse(text, max_tokens=LIMITS.max_tokens)
    except GraphQLError:
        return "parse"
    if refusal(measure(schema, document, max_page_size=LIMITS.max_page_size), LIMITS):
        return "limit"
    if validate(schema, document, specified_rules):
        return "validation"
    if literals_problem(schema, document) is not None:
        return "literal"
    try:
        compile_operation(schema, document, None)
    except NotPlannable:
        return "general executor"
    return "planned"


def cpu_seconds(text: str, runs: int = 3) -> float:
    """The least CPU time of a few runs, with the garbage collector paused: a collection of
    what earlier documents left is not this document's cost."""
    spent = []
    gc.disable()
    try:
        for _ in range(runs):
            started = time.process_time()
            pre_execution(text)
            spent.append(time.process_time() - started)
    finally:
        gc.enable()
    return min(spent)


# -- the documents ---------------------------------------------------------------------------

def fan_out(levels: int, copies: int, body: str) -> str:
    fragments = " ".join(
        f"fragment Q{n} on Query {{ {' '.join([f'...Q{n - 1}'] * copies)} }}"
        for n in range(1, levels + 1))
    return f"query {{ ...Q{levels} }} fragment Q0 on Query {{ {body} }} {fragments}"


def diamonds(levels: int, body: str) -> str:
    fragments = " ".join(
        f"fragment L{n} on Query {{ ...Q{n - 1} }} fragment R{n} on Query {{ ...Q{n - 1} }} "
        f"fragment Q{n} on Query {{ ...L{n} ...R{n} }}" for n in range(1, levels + 1))
    return f"query {{ ...Q{levels} }} fragment Q0 on Query {{ {body} }} {fragments}"


def nested(depth: int) -> str:
    return "{ " + "... on Query { " * depth + "viewer { role }" + " }" * depth + " }"


def nested_fields(depth: int) -> str:
    return "{ " + "viewer { tenant { " * depth + "name" + " } }" * depth + " }"


def wide_aliases(count: int) -> str:
    return "{ " + " ".join(f"a{n}: viewer {{ role }}" for n in range(count)) + " }"


def repeated(count: int, inner: int) -> str:
    return "{ " + ("viewer { " + "role " * inner + "} ") * count + "}"


def directive_flood(count: int) -> str:
    return "{ viewer " + "@include(if: true) " * count + "{ role } }"


def long_string(length: int) -> str:
    return '{ patients(search: "' + "x" * length + '") { edges { cursor } } }'


def many_variables(count: int) -> str:
    declared = ", ".join(f"$v{n}: String" for n in range(count))
    used = " ".join(f"p{n}: patients(search: $v{n}) {{ edges {{ cursor }} }}"
                    for n in range(min(count, 5)))
    return f"query({declared}) {{ {used} }}"


BODIES = st.sampled_from(["__typename", "viewer { role }", "a: viewer { role } __typename"])

documents = st.one_of(
    st.builds(fan_out, st.integers(1, 200), st.integers(2, 8), BODIES),
    st.builds(diamonds, st.integers(1, 120), BODIES),
    st.builds(nested, st.integers(1, 600)),
    st.builds(nested_fields, st.integers(1, 300)),
    st.builds(wide_aliases, st.integers(1, 600)),
    st.builds(repeated, st.integers(1, 500), st.integers(1, 60)),
    st.builds(directive_flood, st.integers(1, 700)),
    st.builds(long_string, st.integers(0, LIMITS.max_body_bytes - 100)),
    st.builds(many_variables, st.integers(1, 500)),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_every_hostile_document_is_answered_within_its_cpu_budget(text: str) -> None:
    spent = cpu_seconds(text, runs=2)
    assert spent <= BUDGET.of(len(text.encode())), (
        f"{len(text)} bytes took {spent * 1000:.1f} ms of CPU: {text[:120]}...")


@pytest.mark.parametrize(("text", "outcome"), [
    pytest.param(fan_out(21, 2, "__typename"), "planned", id="q21-fragment-bomb"),
    pytest.param(fan_out(60, 2, "__typename"), "planned", id="60-doubling-fragments"),
    pytest.param(diamonds(60, "viewer { role }"), "limit", id="60-diamonds"),
    pytest.param(repeated(490, 1), "limit", id="490-copies-of-one-field"),
    pytest.param(repeated(30, 30), "limit", id="30-by-30-copies"),
])
def test_known_bombs_end_where_expected_within_budget(text: str, outcome: str) -> None:
    assert pre_execution(text) == outcome
    assert cpu_seconds(text) <= BUDGET.of(len(text.encode()))


def test_the_q21_fragment_bomb_plans_in_linear_time() -> None:
    # 2^21 visits without a visited set; one per fragment with it.
    small, large = fan_out(21, 2, "__typename"), fan_out(200, 2, "__typename")
    assert cpu_seconds(large) < 20 * max(cpu_seconds(small), 0.001)


def worst_case_table() -> list[tuple[str, int, float]]:
    """(kind, bytes, CPU ms) of the largest document of each kind: the figures reported."""
    cases = {
        "fan-out 200x8": fan_out(200, 8, "viewer { role }"),
        "diamonds 120": diamonds(120, "viewer { role }"),
        "nested 600": nested(600),
        "aliases 600": wide_aliases(600),
        "repeated 500": repeated(500, 1),
        "directives 700": directive_flood(700),
        "string 1 MB": long_string(LIMITS.max_body_bytes - 100),
        "variables 500": many_variables(500),
    }
    return [(kind, len(text.encode()), cpu_seconds(text) * 1000) for kind, text in cases.items()]


def test_largest_document_of_each_kind_stays_within_budget() -> None:
    for kind, size, milliseconds in worst_case_table():
        assert milliseconds / 1000 <= BUDGET.of(size), (kind, size, milliseconds)


# -- over HTTP -------------------------------------------------------------------------------

async def test_healthz_answers_while_a_fragment_bomb_is_answered(
        live_server: LiveServer) -> None:
    bomb = fan_out(24, 2, "__typename")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        started = time.monotonic()
        posted = asyncio.create_task(client.post("/graphql", json={"query": bomb}))
        health = await client.get("/healthz")
        answer = await posted
        elapsed = time.monotonic() - started
    assert health.status_code == 200
    assert answer.status_code == 200
    assert answer.json() == {"data": {"__typename": "Query"}}  # it was 9.3 s, then 200
    assert elapsed < 1.0


async def test_fragment_bomb_with_a_directive_is_answered_as_fast(
        live_server: LiveServer) -> None:
    # Before, the same document with @include went to graphql-core and answered quickly,
    # while without it the plan compiler stalled.
    plain = fan_out(24, 2, "__typename")
    directed = plain.replace("query { ...Q24 }", "query { ...Q24 @include(if: true) }")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=10) as client:
        for text in (plain, directed):
            started = time.monotonic()
            answer = await client.post("/graphql", json={"query": text})
            assert answer.status_code == 200
            assert time.monotonic() - started < 1.0
