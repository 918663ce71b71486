"""Every per-request limit holds on both sides of its edge: depth, aliases, tokens, field cost,
page size, body size, statement timeout and the rate limit per user and per partner token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from graphql import parse

from tests.factories import TenantKit, make_tenant
from tests.harness import Api, DatabaseUnderTest, LiveServer
from tests.serving import code_of, errors_of, live_server
from wardgraph.auth.claims import Role
from wardgraph.config import Limits, Settings
from wardgraph.pipeline.limits import DEFAULT_LIST_SIZE, count_tokens, measure, measure_request
from wardgraph.schema import build_schema
from wardgraph.server.ratelimit import RateLimited, RateLimiter

TIGHT = Limits(max_depth=4, max_aliases=3, max_tokens=40, max_cost=10, max_body_bytes=2000)


@pytest.fixture(scope="module")
async def tight(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    async with live_server(database.api_url, limits=TIGHT) as pair:
        yield pair


@pytest.fixture(scope="module")
async def tight_tenant(tight: tuple[LiveServer, Api], database: DatabaseUnderTest) -> TenantKit:
    kit = await make_tenant(tight[1], database.admin_url)
    await kit.facility("DHK")
    return kit


def facilities(first: int, leaf: str = "code") -> str:
    return f"{{ facilities(first: {first}) {{ edges {{ node {{ {leaf} }} }} }} }}"


def aliased_viewers(count: int) -> str:
    return "{ " + " ".join(f"v{n}: viewer {{ role }}" for n in range(count)) + " }"


def typenames(count: int) -> str:
    return "{ " + " ".join(["__typename"] * count) + " }"


def inline_typenames(count: int) -> str:
    """7 nested inline fragments around `count` __typename: 37 + count tokens, cost <= 4."""
    return ("{ " + "... on Query { " * 7 + " ".join(["__typename"] * count) + " }" * 7
            + " }")


# -- the measure itself (units) ------------------------------------------------------------------

@pytest.mark.parametrize(("query", "depth", "aliases", "cost"), [
    pytest.param("{ viewer { role } }", 2, 0, 2, id="scalar-under-object"),
    pytest.param(facilities(3), 4, 0, 1 + 3 * 3, id="connection-pays-per-item"),
    pytest.param(facilities(0), 4, 0, 1, id="first-0-pays-nothing-below"),
    pytest.param("{ facilities { edges { node { code } } } }", 4, 0, 1 + DEFAULT_LIST_SIZE * 3,
                 id="connection-without-first-pays-the-default-page"),
    pytest.param(facilities(1, "wards { name }"), 5, 0, 1 + 1 * (1 + 1 + 1 + DEFAULT_LIST_SIZE),
                 id="plain-list-pays-the-default-size"),
    pytest.param(facilities(5000), 4, 0, 1 + 100 * 3,
                 id="first-beyond-the-page-size-is-left-to-its-validation"),
    pytest.param(aliased_viewers(2), 2, 2, 4, id="aliases-counted"),
    pytest.param("{ __schema { types { fields { type { name } } } } }", 0, 0, 5,
                 id="introspection-pays-per-field-without-depth"),
    pytest.param(typenames(3), 0, 0, 3, id="typename-costs-1"),
    pytest.param("query { ...F ...F } fragment F on Query { viewer { role } }", 2, 0, 2,
                 id="fragment-spread-twice-in-one-selection-paid-once"),
    pytest.param("query { ...F a: viewer { ...G } } fragment F on Query { viewer { ...G } } "
                 "fragment G on Viewer { role }", 2, 1, 4,
                 id="fragment-paid-once-per-selection-it-is-spread-in"),
])
def test_measure_counts_depth_aliases_and_cost(query: str, depth: int, aliases: int,
                                               cost: int) -> None:
    found = measure(build_schema()._schema, parse(query))
    assert (found.depth, found.aliases, found.cost) == (depth, aliases, cost)


def test_measure_of_nested_fragment_spreads_is_what_execution_visits() -> None:
    # 30 levels of fragments each spreading the next twice would be 2**30 fields to expand;
    # execution collects each fragment once per selection set, and so does the measure.
    fragments = " ".join(f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}"
                         for n in range(30))
    document = parse("query { ...F0 } " + fragments + " fragment F30 on Query { viewer { role } }")
    assert measure(build_schema()._schema, document).cost == 2


def test_measure_of_a_fragment_chain_is_linear_in_its_length() -> None:
    # Each fragment adds its own fields once: 20 fragments, 20 times viewer { role }.
    fragments = " ".join(f"fragment F{n} on Query {{ a: viewer {{ role }} ...F{n + 1} }}"
                         for n in range(20))
    document = parse("query { ...F0 } " + fragments + " fragment F20 on Query { __typename }")
    assert measure(build_schema()._schema, document).cost == 20 * 2 + 1


def test_measure_reads_first_from_variables() -> None:
    document = parse("query($n: Int) { facilities(first: $n) { edges { node { code } } } }")
    assert measure(build_schema()._schema, document, variables={"n": 2}).cost == 1 + 2 * 3


def test_a_measure_that_reads_variables_is_taken_again_for_each_request() -> None:
    text = "query($n: Int) { patients(first: $n) { edges { node { id } } } }"
    schema, document = build_schema()._schema, parse(text)
    few = measure_request(schema, document, text, None, {"n": 2}, 100)
    many = measure_request(schema, document, text, None, {"n": 50}, 100)
    assert many.cost > few.cost
    assert measure_request(schema, document, text, None, {"n": 2}, 100) == few


def test_a_measure_without_variables_is_remembered_by_document_text() -> None:
    text = "{ patients(first: 3) { edges { node { id } } } }"
    schema = build_schema()._schema
    first = measure_request(schema, parse(text), text, None, None, 100)
    assert measure_request(schema, parse(text), text, None, None, 100) is first


@pytest.mark.parametrize(("text", "tokens"), [
    pytest.param("{ a }", 3, id="braces-and-name"),
    pytest.param("# a comment\n{ a(b: 1) }", 8, id="comments-are-not-tokens"),
    pytest.param(typenames(38), 40, id="forty"),
])
def test_count_tokens_counts_lexical_tokens(text: str, tokens: int) -> None:
    assert count_tokens(text, 1000) == tokens


# -- over HTTP, both sides of each edge ----------------------------------------------------------

@pytest.mark.parametrize(("query", "allowed"), [
    pytest.param(facilities(0), True, id="depth-4-at-the-limit"),
    pytest.param(facilities(0, "wards { name }"), False, id="depth-5-over-the-limit"),
    pytest.param(aliased_viewers(3), True, id="3-aliases-at-the-limit"),
    pytest.param(aliased_viewers(4), False, id="4-aliases-over-the-limit"),
    pytest.param(inline_typenames(3), True, id="40-tokens-at-the-limit"),
    pytest.param(inline_typenames(4), False, id="41-tokens-over-the-limit"),
    pytest.param(facilities(3), True, id="cost-10-at-the-limit"),
    pytest.param(facilities(4), False, id="cost-13-over-the-limit"),
])
async def test_query_beyond_a_limit_is_refused_before_execution(
    tight: tuple[LiveServer, Api], tight_tenant: TenantKit, query: str, allowed: bool,
) -> None:
    response = await tight[1].post(query, token=tight_tenant.admin_token)
    assert response.status_code == 200
    if allowed:
        assert "errors" not in response.json(), response.text
    else:
        assert code_of(response) == "QUERY_TOO_COMPLEX"
        assert "data" not in response.json()


async def test_refused_query_never_reaches_the_database(
    tight: tuple[LiveServer, Api], tight_tenant: TenantKit, database: DatabaseUnderTest,
) -> None:
    creates = " ".join(
        f'f{n}: createFacility(input: {{code: "Z{n}", name: "Z", timezone: "UTC"}}) {{ id }}'
        for n in range(4))
    response = await tight[1].post("mutation { " + creates + " }", token=tight_tenant.admin_token)
    assert code_of(response) == "QUERY_TOO_COMPLEX"
    created = await _admin_count(database, "select count(*) from app.facilities "
                                 "where tenant_id = $1 and code like 'Z%'", tight_tenant)
    assert created == 0


async def _admin_count(database: DatabaseUnderTest, sql: str, kit: TenantKit) -> int:
    connection = await asyncpg.connect(database.admin_url)
    try:
        count: int = await connection.fetchval(sql, kit.tenant_id)
        return count
    finally:
        await connection.close()


@pytest.mark.parametrize(("first", "code"), [
    pytest.param(100, None, id="first-100-at-the-page-size"),
    pytest.param(101, "VALIDATION_FAILED", id="first-101-over-the-page-size"),
])
async def test_page_size_is_capped_at_max_page_size(
    api: Api, tenant: TenantKit, first: int, code: str | None,
) -> None:
    response = await api.post(facilities(first), token=tenant.admin_token)
    assert code_of(response) == code
    if code is not None:
        assert errors_of(response)[0]["extensions"]["field"] == "first"


def _body_of_size(size: int) -> bytes:
    body = b'{"query": "{ __typename }"}'
    return body + b" " * (size - len(body))


@pytest.mark.parametrize(("size", "status"), [
    pytest.param(2000, 200, id="2000-bytes-at-the-limit"),
    pytest.param(2001, 413, id="2001-bytes-over-the-limit"),
])
async def test_request_body_larger_than_the_limit_answers_413(
    tight: tuple[LiveServer, Api], size: int, status: int,
) -> None:
    response = await tight[1].client.post(
        "/graphql", content=_body_of_size(size), headers={"content-type": "application/json"})
    assert response.status_code == status
    if status == 413:
        assert code_of(response) == "QUERY_TOO_COMPLEX"


async def test_chunked_body_is_cut_off_at_the_limit(tight: tuple[LiveServer, Api]) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ __typename }"}'
        for _ in range(30):
            yield b" " * 100

    response = await tight[1].client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


# -- statement timeout ---------------------------------------------------------------------------

HEAVY_PATIENTS = 300_000
# A normal request's statements take well under a millisecond; searching a 300,000-patient
# tenant for a prefix every patient matches, then sorting them for the first page, takes tens
# of milliseconds: the two sides stand well apart.
TINY_STATEMENT_TIMEOUT_MS = 25


@pytest.fixture(scope="module")
async def crowded(database: DatabaseUnderTest) -> AsyncIterator[tuple[TenantKit, Api]]:
    """A tenant with many patients, served by an app whose statement timeout is tiny."""
    limits = Limits(statement_timeout_ms=TINY_STATEMENT_TIMEOUT_MS)
    async with live_server(database.api_url, limits=limits) as (_, api):
        kit = await make_tenant(api, database.admin_url)
        connection = await asyncpg.connect(database.admin_url)
        try:
            facility = await connection.fetchval(
                "insert into app.facilities (tenant_id, code, name, timezone) "
                "values ($1, 'BIG', 'Big', 'UTC') returning id", kit.tenant_id)
            await connection.execute(
                "insert into app.patients (tenant_id, facility_id, mrn, given_name, family_name,"
                " birth_date) select $1, $2, 'P-' || g, 'Given' || g, 'Family' || "
                "(g::bigint * 7919 % 100000), date '1960-01-01' from generate_series(1, $3::int) g",
                kit.tenant_id, facility, HEAVY_PATIENTS)
            await connection.execute("analyze app.patients")
        finally:
            await connection.close()
        yield kit, api


async def test_statement_longer_than_the_timeout_is_cancelled_with_a_clear_code(
    crowded: tuple[TenantKit, Api],
) -> None:
    kit, api = crowded
    response = await api.post('{ patients(first: 1, search: "family") { edges { node { id } } } }',
                              token=kit.admin_token)
    assert code_of(response) == "QUERY_TOO_COMPLEX"
    assert errors_of(response)[0]["message"] == "The request took too long and was cancelled"


async def test_statement_within_the_timeout_runs(
    crowded: tuple[TenantKit, Api], tenant: TenantKit,
) -> None:
    _, api = crowded
    data = await api.data('{ patients(first: 1, search: "family") { edges { node { id } } } }',
                          token=tenant.admin_token)
    assert data == {"patients": {"edges": []}}


# -- rate limit ----------------------------------------------------------------------------------

RATE = 3


@pytest.fixture(scope="module")
async def rate_limited(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    async with live_server(database.api_url,
                           limits=Limits(rate_limit_per_minute=RATE)) as pair:
        yield pair


async def _burst(api: Api, token: str, count: int) -> list[int]:
    statuses = []
    for _ in range(count):
        statuses.append((await api.post("{ viewer { role } }", token=token)).status_code)
    return statuses


async def test_user_gets_the_limit_then_rate_limited_with_retry_after(
    rate_limited: tuple[LiveServer, Api], tenant: TenantKit,
) -> None:
    api = rate_limited[1]
    nurse = await tenant.user(Role.NURSE)
    assert await _burst(api, nurse, RATE) == [200] * RATE
    refused = await api.post("{ viewer { role } }", token=nurse)
    assert refused.status_code == 429
    assert code_of(refused) == "RATE_LIMITED"
    assert int(refused.headers["retry-after"]) >= 1


async def test_each_partner_token_has_its_own_allowance(
    rate_limited: tuple[LiveServer, Api], tenant: TenantKit,
) -> None:
    api = rate_limited[1]
    first = await tenant.partner(["patients:read"])
    second = await tenant.partner(["patients:read"])
    assert await _burst(api, first, RATE + 1) == [200] * RATE + [429]
    assert await _burst(api, second, 1) == [200]


def test_bucket_refills_at_the_per_minute_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, clock=lambda: now[0])
    for _ in range(60):
        limiter.check("caller")
    with pytest.raises(RateLimited) as refused:
        limiter.check("caller")
    assert refused.value.retry_after == 1
    now[0] += 1.0  # one request a second comes back
    limiter.check("caller")
    with pytest.raises(RateLimited):
        limiter.check("caller")


def test_require_one_takes_nothing_but_refuses_an_empty_bucket() -> None:
    limiter = RateLimiter(per_minute=2, clock=lambda: 0.0)
    limiter.require_one("address")
    limiter.check("address")
    limiter.require_one("address")
    limiter.check("address")
    with pytest.raises(RateLimited):
        limiter.require_one("address")


# -- failed credentials, per client address ------------------------------------------------------

FAILURES = 3


@pytest.fixture(scope="module")
async def failures_limited(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    async with live_server(database.api_url,
                           limits=Limits(auth_failures_per_minute=FAILURES)) as pair:
        yield pair


async def test_unknown_partner_tokens_are_limited_by_address_before_any_lookup(
    failures_limited: tuple[LiveServer, Api], tenant: TenantKit,
) -> None:
    api = failures_limited[1]
    guesses = [await api.post("{ viewer { role } }", token=f"wgp_guess{n}")
               for n in range(FAILURES)]
    assert [code_of(r) for r in guesses] == ["UNAUTHENTICATED"] * FAILURES
    for token in ("wgp_another_guess", "not.a.jwt",
                  await tenant.partner(["patients:read"])):
        # Refused before the token is looked at: a valid one from this address waits too.
        refused = await api.post("{ viewer { role } }", token=token)
        assert refused.status_code == 429, refused.text
        assert code_of(refused) == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1


def test_rate_limit_of_zero_turns_it_off() -> None:
    limiter = RateLimiter(per_minute=0)
    for _ in range(1000):
        limiter.check("caller")


# -- configuration -------------------------------------------------------------------------------

@pytest.mark.parametrize(("variable", "attribute"), [
    pytest.param("WARDGRAPH_MAX_DEPTH", "max_depth", id="depth"),
    pytest.param("WARDGRAPH_MAX_ALIASES", "max_aliases", id="aliases"),
    pytest.param("WARDGRAPH_MAX_TOKENS", "max_tokens", id="tokens"),
    pytest.param("WARDGRAPH_MAX_COST", "max_cost", id="cost"),
    pytest.param("WARDGRAPH_MAX_PAGE_SIZE", "max_page_size", id="page-size"),
    pytest.param("WARDGRAPH_MAX_BODY_BYTES", "max_body_bytes", id="body"),
    pytest.param("WARDGRAPH_STATEMENT_TIMEOUT_MS", "statement_timeout_ms", id="timeout"),
    pytest.param("WARDGRAPH_RATE_LIMIT_PER_MINUTE", "rate_limit_per_minute", id="rate"),
    pytest.param("WARDGRAPH_AUTH_FAILURES_PER_MINUTE", "auth_failures_per_minute",
                 id="auth-failures"),
    pytest.param("WARDGRAPH_SUBSCRIPTION_QUEUE_SIZE", "subscription_queue_size", id="queue"),
])
def test_each_limit_has_a_default_and_an_environment_variable(variable: str,
                                                              attribute: str) -> None:
    default = getattr(Settings.from_env({}).limits, attribute)
    assert default == getattr(Limits(), attribute) and default > 0
    assert getattr(Settings.from_env({variable: "7"}).limits, attribute) == 7


async def test_many_requests_at_once_are_each_limited_once(
    rate_limited: tuple[LiveServer, Api], tenant: TenantKit,
) -> None:
    api = rate_limited[1]
    nurse = await tenant.user(Role.NURSE)
    responses = await asyncio.gather(*(api.post("{ viewer { role } }", token=nurse)
                                       for _ in range(RATE + 3)))
    assert sorted(r.status_code for r in responses) == [200] * RATE + [429] * 3
