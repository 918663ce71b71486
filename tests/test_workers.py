"""`wardgraph serve` with two worker processes on one port: each worker LISTENs, so an alert
recorded through either reaches subscribers on both; and the rate limit, kept in PostgreSQL,
allows a caller the configured rate across both workers together, not twice it.

A connection lands on whichever worker accepts it first. Each worker has its own /metrics, so
a fresh connection to /metrics shows one worker's counts: that is how the tests know where
their subscribers and requests landed."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests.factories import TenantKit
from tests.harness import Api, DatabaseUnderTest
from tests.serving import (
    ServeProcess,
    acknowledged,
    escalate,
    metric,
    next_message,
    serve_environment,
    socket_for,
    subscribe,
    wardgraph_command,
)
from wardgraph.auth.claims import Role
from wardgraph.config import ConfigError, Settings

ALERTS = "subscription { news2Alerts { escalationId total } }"
OPEN = "wardgraph_subscriptions_open"
REQUESTS = "wardgraph_graphql_requests_total"
PER_MINUTE = 5
SAMPLES = 12  # fresh connections to /metrics per look: both workers answer some of them
MAX_SUBSCRIBERS = 12


@pytest.fixture(scope="module")
async def two_workers(database: DatabaseUnderTest,
                      tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ServeProcess]:
    env = serve_environment(database.api_url, database.admin_url, WARDGRAPH_WORKERS="2",
                            WARDGRAPH_RATE_LIMIT_PER_MINUTE=str(PER_MINUTE))
    del env["WARDGRAPH_ADMIN_DATABASE_URL"]  # migrated already: serve only checks the schema
    server = ServeProcess(env, Path(tmp_path_factory.mktemp("workers")) / "serve.log")
    try:
        await server.wait_ready()
        yield server
    finally:
        server.stop()


async def one_workers_metric(url: str, name: str, **labels: str) -> float:
    """A series at /metrics over a new connection: the figure of the worker that accepted it."""
    fresh = Api(url)
    try:
        return await metric(fresh, name, **labels)
    finally:
        await fresh.close()


async def looks(url: str, name: str, **labels: str) -> set[float]:
    return {await one_workers_metric(url, name, **labels) for _ in range(SAMPLES)}


async def subscriber(stack: AsyncExitStack, url: str, token: str) -> ClientConnection:
    ws = await stack.enter_async_context(socket_for(url, {"Authorization": f"Bearer {token}"}))
    await acknowledged(ws)
    await subscribe(ws, ALERTS)
    return ws


def serve_children(server: ServeProcess) -> list[int]:
    """The worker processes' pids: the children of the serve process."""
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return [int(pid) for pid in children.read_text().split()]


def test_serve_runs_two_worker_processes(two_workers: ServeProcess) -> None:
    assert len(serve_children(two_workers)) >= 2


async def test_alert_recorded_through_one_worker_reaches_subscribers_on_the_other(
    two_workers: ServeProcess, tenant: TenantKit,
) -> None:
    dhk = tenant.facilities["DHK"]
    nurse = await tenant.user(Role.NURSE, [dhk])
    patient = await tenant.patient(dhk)
    async with AsyncExitStack() as stack:
        sockets: list[ClientConnection] = []
        # Open subscribers until both workers hold some: a worker showing 0 < n < all of
        # them has n, so the other has the rest.
        while True:
            sockets.append(await subscriber(stack, two_workers.url, nurse))
            await asyncio.sleep(0.3)  # the subscription starts and is counted
            seen = await looks(two_workers.url, OPEN)
            if any(0 < n < len(sockets) for n in seen):
                break
            assert len(sockets) < MAX_SUBSCRIBERS, f"every subscriber on one worker: {seen}"
        # Whichever worker records it, a subscriber on the other one must hear of it.
        for _ in range(3):
            fresh = Api(two_workers.url)
            try:
                escalation = await escalate(fresh, nurse, patient)
            finally:
                await fresh.close()
            for ws in sockets:
                message = await next_message(ws)
                assert message["type"] == "next", message
                assert message["payload"]["data"]["news2Alerts"]["total"] == 3
            assert escalation


async def test_rate_limit_is_one_budget_across_both_workers(
    two_workers: ServeProcess, tenant: TenantKit,
) -> None:
    token = await tenant.user(Role.CLINICIAN)
    sent = 12
    statuses = []
    for _ in range(sent):  # each on a new connection, so both workers take some
        async with httpx.AsyncClient(base_url=two_workers.url, timeout=30) as client:
            response = await client.post(
                "/graphql", json={"query": "query RateProbe { viewer { role } }"},
                headers={"Authorization": f"Bearer {token}"})
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
                assert int(response.headers["retry-after"]) >= 1
    assert statuses.count(200) == PER_MINUTE
    assert statuses.count(429) == sent - PER_MINUTE
    # Both workers served some of them (or each could have allowed PER_MINUTE on its own).
    served = set()
    for _ in range(SAMPLES):
        fresh = Api(two_workers.url)  # one connection, so both figures are one worker's
        try:
            served.add(
                await metric(fresh, REQUESTS, operation="RateProbe", code="OK")
                + await metric(fresh, REQUESTS, operation="anonymous", code="RATE_LIMITED"))
        finally:
            await fresh.close()
    assert any(0 < n < sent for n in served), served


def test_serve_refuses_fewer_than_one_worker() -> None:
    result = subprocess.run(wardgraph_command("serve", "--workers", "0"), capture_output=True,
                            text=True, timeout=60, check=False,
                            env=serve_environment("postgresql://wg_api@127.0.0.1:1/none",
                                                  "postgresql://postgres@127.0.0.1:1/none"))
    assert result.returncode == 2
    assert result.stderr == "wardgraph: --workers must be at least 1\n"


@pytest.mark.parametrize(("name", "value"), [
    pytest.param("WARDGRAPH_WORKERS", "0", id="no-workers"),
    pytest.param("WARDGRAPH_STATEMENT_CACHE_SIZE", "-1", id="negative-statement-cache"),
])
def test_scale_out_settings_refuse_what_cannot_work(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_scale_out_settings_default_to_one_process_talking_straight_to_postgres() -> None:
    settings = Settings.from_env({})
    assert (settings.workers, settings.statement_cache_size, settings.listen_database_url) == (
        1, 100, None)
