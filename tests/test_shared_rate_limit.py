"""The rate limit's token buckets in PostgreSQL (policies/rate_limits.sql): what two API
processes, each with its own connections, take from one caller's bucket together."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.factories import admin_fetch
from tests.harness import DatabaseUnderTest
from wardgraph.auth.claims import Claims, Role
from wardgraph.db.session import claimed_transaction
from wardgraph.server.ratelimit import RateLimited
from wardgraph.server.shared_ratelimit import SharedRateLimiter, bucket_name

TAKE = "select auth.take_request($1, $2, $3)"


@pytest.fixture
async def processes(database: DatabaseUnderTest) -> AsyncIterator[list[asyncpg.Connection]]:
    """Ten connections of the API's login role, as ten API processes would hold."""
    connections = [await asyncpg.connect(database.api_url) for _ in range(10)]
    try:
        yield connections
    finally:
        for connection in connections:
            await connection.close()


def a_caller() -> tuple[uuid.UUID, str]:
    return uuid.uuid4(), f"user:{uuid.uuid4()}"


async def test_two_processes_share_one_callers_bucket(
    processes: list[asyncpg.Connection],
) -> None:
    tenant, caller = a_caller()
    first, second = processes[:2]
    waits = [await (first if n % 2 else second).fetchval(TAKE, tenant, caller, 3)
             for n in range(4)]
    # Three requests a minute: the fourth waits for the next third of a token, 20 s.
    assert waits == [0, 0, 0, 20]


async def test_concurrent_requests_never_take_more_than_the_bucket_holds(
    processes: list[asyncpg.Connection],
) -> None:
    tenant, caller = a_caller()

    async def twice(connection: asyncpg.Connection) -> list[int]:
        return [await connection.fetchval(TAKE, tenant, caller, 5) for _ in range(2)]

    waits = [w for pair in await asyncio.gather(*map(twice, processes)) for w in pair]
    assert waits.count(0) == 5 and len(waits) == 20


async def test_one_callers_empty_bucket_leaves_anothers_full(
    processes: list[asyncpg.Connection],
) -> None:
    tenant, caller = a_caller()
    connection = processes[0]
    assert await connection.fetchval(TAKE, tenant, caller, 1) == 0
    assert await connection.fetchval(TAKE, tenant, caller, 1) == 60
    assert await connection.fetchval(TAKE, tenant, f"user:{uuid.uuid4()}", 1) == 0
    assert await connection.fetchval(TAKE, uuid.uuid4(), caller, 1) == 0


async def test_a_bucket_refills_at_the_steady_rate(processes: list[asyncpg.Connection]) -> None:
    tenant, caller = a_caller()
    connection = processes[0]
    per_minute = 120  # two a second
    waits = [await connection.fetchval(TAKE, tenant, caller, per_minute)
             for _ in range(per_minute)]
    assert set(waits) == {0}
    assert await connection.fetchval(TAKE, tenant, caller, per_minute) == 1
    await asyncio.sleep(0.6)
    assert await connection.fetchval(TAKE, tenant, caller, per_minute) == 0


async def test_the_api_role_cannot_read_the_buckets(processes: list[asyncpg.Connection]) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await processes[0].fetch("select * from platform.rate_limit_buckets")


async def test_no_request_role_can_read_the_buckets(processes: list[asyncpg.Connection]) -> None:
    admin = Claims(tenant_id=uuid.uuid4(), role=Role.ADMIN, user_id=uuid.uuid4())
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with claimed_transaction(processes[0], admin, "t", 5000) as session:
            await session.fetch("select * from platform.rate_limit_buckets")


async def test_a_bucket_name_is_accepted_only_in_its_shape(
    processes: list[asyncpg.Connection],
) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await processes[0].fetchval(TAKE, uuid.uuid4(), "user:' or true --", 5)


def test_users_and_partner_tokens_have_buckets_of_their_own() -> None:
    tenant, person = uuid.uuid4(), uuid.uuid4()
    user = Claims(tenant_id=tenant, role=Role.NURSE, user_id=person)
    partner = Claims(tenant_id=tenant, role=Role.PARTNER, partner_token_id=person)
    assert bucket_name(user) == f"user:{person}"
    assert bucket_name(partner) == f"partner:{person}"


async def test_buckets_are_unlogged_and_keyed_by_tenant_first(
    database: DatabaseUnderTest,
) -> None:
    [row] = await admin_fetch(database.admin_url, """
        select c.relpersistence::text,
               (select array_agg(a.attname::text order by k.n)
                from unnest(i.indkey) with ordinality as k (attnum, n)
                join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum) as key
        from pg_class c join pg_index i on i.indrelid = c.oid and i.indisprimary
        where c.oid = 'platform.rate_limit_buckets'::regclass""")
    assert row["relpersistence"] == "u"
    assert row["key"] == ["tenant_id", "caller"]


async def test_a_request_goes_on_when_the_buckets_cannot_be_asked(
    database: DatabaseUnderTest,
) -> None:
    # The request needs the database itself and fails on its own transaction; the limiter
    # neither answers for it nor turns the outage into RATE_LIMITED for everyone.
    pool = await asyncpg.create_pool(database.api_url, min_size=1, max_size=1)
    assert pool is not None
    await pool.close()
    limiter = SharedRateLimiter(pool, 1, acquire_timeout=1)
    caller = Claims(tenant_id=uuid.uuid4(), role=Role.NURSE, user_id=uuid.uuid4())
    for _ in range(3):
        await limiter.check(caller)


async def test_the_shared_limiter_refuses_the_request_past_the_budget(
    database: DatabaseUnderTest,
) -> None:
    pool = await asyncpg.create_pool(database.api_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        limiter = SharedRateLimiter(pool, 2, acquire_timeout=5)
        caller = Claims(tenant_id=uuid.uuid4(), role=Role.NURSE, user_id=uuid.uuid4())
        await limiter.check(caller)
        await limiter.check(caller)
        with pytest.raises(RateLimited) as refused:
            await limiter.check(caller)
        assert refused.value.retry_after == 30
    finally:
        await pool.close()
