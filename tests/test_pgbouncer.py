"""The API through PgBouncer in transaction mode (Debian's 1.18): two workers share a pool of
a few server connections, so consecutive transactions of different tenants and roles run on
the same server connection. Every response must be the caller's own, and no claim may be left
on a server connection once a transaction ends: the probe asks each server connection, through
PgBouncer and outside any transaction, what `wg.tenant_id` holds.

The long run (LEAK_REQUESTS) is slow; a short one of the same shape runs with the suite."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import TenantKit, make_tenant
from tests.harness import Api, DatabaseUnderTest
from tests.pgbouncer import PgBouncer, pgbouncer_missing_reason
from tests.serving import (
    ServeProcess,
    acknowledged,
    escalate,
    next_message,
    serve_environment,
    socket_for,
    subscribe,
)
from wardgraph.auth.claims import Role

SERVER_CONNECTIONS = 4  # PgBouncer's pool: far fewer than the two workers' clients
WORKER_POOL = 8  # each worker's asyncpg pool (clients of PgBouncer)
CONCURRENCY = 24
LEAK_REQUESTS = 100_000
SHORT_REQUESTS = 2_000
PROBE_EVERY = 250  # a claims probe through PgBouncer between this many requests

WHO = """query Who { viewer { role tenant { slug } user { email role } }
  facilities(first: 10) { edges { node { code } } } }"""

# Every server connection, through PgBouncer, outside a transaction: who it is and what claims
# it holds. pg_sleep keeps each probe on its server connection while the others are probed.
PROBE = """select pg_backend_pid() as pid, current_user::text as login,
       current_setting('role') as role,
       current_setting('wg.tenant_id', true) as tenant_id,
       current_setting('wg.role', true) as wg_role,
       current_setting('wg.user_id', true) as user_id,
       current_setting('wg.facility_ids', true) as facility_ids,
       pg_sleep($1)"""

pytestmark = pytest.mark.skipif(pgbouncer_missing_reason() is not None,
                                reason=pgbouncer_missing_reason() or "")


@dataclass
class Caller:
    name: str
    token: str
    expected: dict[str, Any]


@dataclass
class Stack:
    bouncer: PgBouncer
    serve: ServeProcess
    callers: list[Caller]


async def callers_of(api: Api, database: DatabaseUnderTest) -> list[Caller]:
    """Two tenants, five roles each, each role in other facilities: no two answers alike."""
    callers: list[Caller] = []
    for n in (1, 2):
        kit: TenantKit = await make_tenant(api, database.admin_url)
        a, b, c = [await kit.facility(f"F{n}{x}", "UTC") for x in "ABC"]
        roles = [(Role.ADMIN, None), (Role.NURSE, [a]), (Role.CLINICIAN, [b]),
                 (Role.BILLING, [a, b]), (Role.AUDITOR, [c])]
        for role, facilities in roles:
            token = kit.admin_token if facilities is None else await kit.user(role, facilities)
            expected = await api.data(WHO, token=token)
            callers.append(Caller(f"{kit.slug}/{role.value}", token, expected))
    answers = [repr(c.expected) for c in callers]
    assert len(set(answers)) == len(callers), "two callers would get the same answer"
    return callers


@pytest.fixture(scope="module")
async def through_pgbouncer(database: DatabaseUnderTest, api: Api,
                            tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    bouncer = PgBouncer(database.api_url, SERVER_CONNECTIONS)
    bouncer.start()
    env = serve_environment(
        bouncer.url, database.admin_url, WARDGRAPH_WORKERS="2",
        WARDGRAPH_STATEMENT_CACHE_SIZE="0", WARDGRAPH_LISTEN_DATABASE_URL=database.api_url,
        WARDGRAPH_POOL_MIN_SIZE="1", WARDGRAPH_POOL_MAX_SIZE=str(WORKER_POOL),
        WARDGRAPH_POOL_TIMEOUT_SECONDS="30",
        # On, so that every request's bucket goes through PgBouncer too, and never reached.
        WARDGRAPH_RATE_LIMIT_PER_MINUTE="100000000")
    del env["WARDGRAPH_ADMIN_DATABASE_URL"]  # migrated already: serve only checks the schema
    serve = ServeProcess(env, Path(tmp_path_factory.mktemp("pgbouncer")) / "serve.log")
    try:
        await serve.wait_ready()
        yield Stack(bouncer, serve, await callers_of(api, database))
    finally:
        serve.stop()
        bouncer.stop()


async def probe_server_connections(bouncer_url: str, hold: float) -> list[asyncpg.Record]:
    """One probe on each server connection at once (each holds its connection for `hold`)."""
    clients = [await asyncpg.connect(bouncer_url, statement_cache_size=0)
               for _ in range(SERVER_CONNECTIONS)]
    try:
        return list(await asyncio.gather(*(c.fetchrow(PROBE, hold) for c in clients)))
    finally:
        for client in clients:
            await client.close()


def leftover_claims(rows: list[asyncpg.Record]) -> list[dict[str, Any]]:
    """Probes that found anything but the bare login role with no claims."""
    return [dict(row) for row in rows
            if row["login"] != "wg_api" or row["role"] != "none"
            or any(row[k] for k in ("tenant_id", "wg_role", "user_id", "facility_ids"))]


@dataclass
class Tally:
    sent: int = 0
    wrong: int = 0
    failed: int = 0
    probes: int = 0
    leftovers: int = 0


async def interleaved(stack: Stack, requests: int) -> Tally:
    """`requests` requests from every caller in random order over CONCURRENCY connections,
    each answer compared with its caller's own; a probe of one server connection between
    every PROBE_EVERY requests, while the others keep serving."""
    tally = Tally()
    order = [stack.callers[i % len(stack.callers)] for i in range(requests)]
    random.Random(18).shuffle(order)
    queue = iter(order)
    wrong_examples: list[str] = []
    probe = await asyncpg.connect(stack.bouncer.url, statement_cache_size=0)

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=stack.serve.url, timeout=60) as client:
            for caller in queue:
                response = await client.post(
                    "/graphql", json={"query": WHO},
                    headers={"Authorization": f"Bearer {caller.token}"})
                tally.sent += 1
                if response.status_code != 200:
                    tally.failed += 1
                elif response.json() != {"data": caller.expected}:
                    tally.wrong += 1
                    wrong_examples.append(f"{caller.name}: {response.text[:300]}")
                if tally.sent % PROBE_EVERY == 0:
                    tally.probes += 1
                    tally.leftovers += len(leftover_claims([await probe.fetchrow(PROBE, 0)]))

    try:
        await asyncio.gather(*(client_loop() for _ in range(CONCURRENCY)))
    finally:
        await probe.close()
    assert not wrong_examples[:5], wrong_examples[:5]
    return tally


async def assert_no_leak(stack: Stack, requests: int) -> Tally:
    tally = await interleaved(stack, requests)
    final = await probe_server_connections(stack.bouncer.url, 0.3)
    print(f"\n{tally.sent} requests through PgBouncer ({SERVER_CONNECTIONS} server connections, "
          f"2 workers, {len(stack.callers)} callers): {tally.wrong} wrong, {tally.failed} "
          f"failed; {tally.probes + len(final)} probes, {tally.leftovers} with claims left")
    assert tally.sent == requests
    assert tally.failed == 0 and tally.wrong == 0
    assert tally.leftovers == 0 and tally.probes > 0
    assert leftover_claims(final) == []
    # The final probe reached every server connection PgBouncer holds for the API.
    assert len({row["pid"] for row in final}) == SERVER_CONNECTIONS
    return tally


async def test_short_interleaved_run_through_pgbouncer_answers_each_caller_its_own(
    through_pgbouncer: Stack,
) -> None:
    await assert_no_leak(through_pgbouncer, SHORT_REQUESTS)


@pytest.mark.slow
async def test_100k_interleaved_requests_through_pgbouncer_leak_no_tenant_role_or_claim(
    through_pgbouncer: Stack,
) -> None:
    await assert_no_leak(through_pgbouncer, LEAK_REQUESTS)


async def test_alerts_reach_subscribers_when_the_api_goes_through_pgbouncer(
    through_pgbouncer: Stack, database: DatabaseUnderTest, api: Api,
) -> None:
    # The listener has a direct URL of its own (WARDGRAPH_LISTEN_DATABASE_URL); the alert is
    # recorded, and re-read for the subscriber, through PgBouncer.
    kit = await make_tenant(api, database.admin_url)
    facility = await kit.facility("LSN", "UTC")
    nurse = await kit.user(Role.NURSE, [facility])
    patient = await kit.patient(facility)
    url = through_pgbouncer.serve.url
    async with socket_for(url, {"Authorization": f"Bearer {nurse}"}) as ws:
        await acknowledged(ws)
        await subscribe(ws, "subscription { news2Alerts { total patientId } }")
        await asyncio.sleep(0.5)
        through = Api(url)
        try:
            await escalate(through, nurse, patient)
        finally:
            await through.close()
        message = await next_message(ws)
    assert message["type"] == "next", message
    assert message["payload"]["data"]["news2Alerts"] == {"total": 3, "patientId": patient}


def test_probe_flags_a_claim_or_a_role_left_on_a_server_connection() -> None:
    clean = {"pid": 1, "login": "wg_api", "role": "none", "tenant_id": "", "wg_role": None,
             "user_id": "", "facility_ids": None}
    tenant_left = {**clean, "tenant_id": "5b1c0d4e-0000-4000-8000-000000000000"}
    role_left = {**clean, "role": "wg_nurse"}
    assert leftover_claims([clean]) == []  # type: ignore[list-item]
    assert leftover_claims([tenant_left, role_left]) == [tenant_left, role_left]  # type: ignore[list-item]
