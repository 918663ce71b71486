"""Faults, on a database server of this module's own (never the session's): the server stopped
and started again, an exhausted pool, a request killed half-way, a graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.factories import TenantKit, admin_fetch, make_tenant
from tests.harness import Api, LiveServer, start_embedded_for_tests
from tests.serving import (
    ServeProcess,
    acknowledged,
    code_of,
    errors_of,
    escalate,
    live_server,
    next_message,
    serve_environment,
    socket_for,
    subscribe,
    wait_for_metric,
)
from wardgraph.auth.claims import Role
from wardgraph.db.embedded import EmbeddedPostgres
from wardgraph.db.errors import to_app_error

FACILITIES = "{ facilities(first: 5) { edges { node { code } } } }"
# Well under the time a hanging request would take: connecting to a stopped server fails at
# once, and acquiring from the pool gives up after pool_timeout_seconds.
FAIL_FAST_SECONDS = 3.0
POOL_TIMEOUT_SECONDS = 1.0


@pytest.fixture(scope="module")
async def own_database() -> AsyncIterator[EmbeddedPostgres]:
    server = await asyncio.to_thread(start_embedded_for_tests)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.fixture(scope="module")
async def own_api(own_database: EmbeddedPostgres) -> AsyncIterator[tuple[LiveServer, Api]]:
    async with live_server(own_database.url(user="wg_api"),
                           pool_timeout_seconds=POOL_TIMEOUT_SECONDS) as pair:
        yield pair


@pytest.fixture(scope="module")
async def own_tenant(own_api: tuple[LiveServer, Api],
                     own_database: EmbeddedPostgres) -> TenantKit:
    kit = await make_tenant(own_api[1], own_database.url())
    await kit.facility("DHK")
    return kit


async def _wait_ready(api: Api, status: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while (await api.client.get("/readyz")).status_code != status:
        if time.monotonic() > deadline:
            raise AssertionError(f"/readyz never answered {status}")
        await asyncio.sleep(0.2)


async def test_stopped_database_fails_fast_and_the_server_recovers_without_restart(
    own_database: EmbeddedPostgres, own_api: tuple[LiveServer, Api], own_tenant: TenantKit,
) -> None:
    api = own_api[1]
    partner = await own_tenant.partner(["patients:read"])
    assert await api.data(FACILITIES, token=own_tenant.admin_token)
    await asyncio.to_thread(own_database.stop)
    try:
        assert (await api.client.get("/readyz")).status_code == 503
        for token in (own_tenant.admin_token, partner):
            started = time.monotonic()
            response = await api.post(FACILITIES, token=token)
            assert time.monotonic() - started < FAIL_FAST_SECONDS
            assert code_of(response) == "SERVICE_UNAVAILABLE"
            assert errors_of(response)[0]["extensions"]["requestId"] == (
                response.headers["x-request-id"])
    finally:
        await asyncio.to_thread(own_database.start)
    await _wait_ready(api, 200)
    data = await api.data(FACILITIES, token=own_tenant.admin_token)
    assert data == {"facilities": {"edges": [{"node": {"code": "DHK"}}]}}
    assert await api.data("{ viewer { role } }", token=partner) == {
        "viewer": {"role": "PARTNER"}}


async def test_alerts_resume_when_the_database_comes_back(
    own_database: EmbeddedPostgres, own_api: tuple[LiveServer, Api], own_tenant: TenantKit,
) -> None:
    api = own_api[1]
    facility = own_tenant.facilities["DHK"]
    nurse = await own_tenant.user(Role.NURSE, [facility])
    patient = await own_tenant.patient(facility)
    async with socket_for(api.base_url, {"Authorization": f"Bearer {nurse}"}) as ws:
        await acknowledged(ws)
        await subscribe(ws, "subscription { news2Alerts { patientId } }")
        await wait_for_metric(api, "wardgraph_subscriptions_open", 1)
        await wait_for_metric(api, "wardgraph_alert_listener_up", 1)
        await asyncio.to_thread(own_database.stop)
        try:
            await wait_for_metric(api, "wardgraph_alert_listener_up", 0)
        finally:
            await asyncio.to_thread(own_database.start)
        await wait_for_metric(api, "wardgraph_alert_listener_up", 1, within=30)
        await escalate(api, nurse, patient)
        message = await next_message(ws)
        assert message["payload"]["data"]["news2Alerts"] == {"patientId": patient}


async def test_exhausted_pool_times_out_cleanly(
    own_database: EmbeddedPostgres, own_tenant: TenantKit,
) -> None:
    async with live_server(own_database.url(user="wg_api"), pool_min_size=1, pool_max_size=1,
                           pool_timeout_seconds=0.5) as (server, api):
        pool: asyncpg.Pool = server.app.state.wardgraph.pool
        held = await pool.acquire()
        try:
            started = time.monotonic()
            response = await api.post(FACILITIES, token=own_tenant.admin_token)
            waited = time.monotonic() - started
            assert code_of(response) == "SERVICE_UNAVAILABLE"
            assert 0.5 <= waited < FAIL_FAST_SECONDS
        finally:
            await pool.release(held)
        assert await api.data(FACILITIES, token=own_tenant.admin_token)


async def _backends_of_api(admin_url: str) -> list[asyncpg.Record]:
    return await admin_fetch(admin_url, "select pid, wait_event_type, state "
                             "from pg_stat_activity where usename = 'wg_api'")


async def _until(predicate: Callable[[], Awaitable[bool]], what: str,
                 within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not await predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.1)


async def test_killed_server_mid_mutation_leaves_no_partial_write(
    own_database: EmbeddedPostgres, own_api: tuple[LiveServer, Api], own_tenant: TenantKit,
    tmp_path: Path,
) -> None:
    admin_url = own_database.url()
    facility = own_tenant.facilities["DHK"]
    ward = await own_tenant.ward(facility)
    bed = await own_tenant.bed(ward, "K-1")
    patient = await own_tenant.patient(facility)
    nurse = await own_tenant.user(Role.NURSE, [facility])
    serve = ServeProcess(serve_environment(own_database.url(user="wg_api"), admin_url),
                         tmp_path / "serve.log")
    try:
        await serve.wait_ready()
        # The admission row is written first; its bed stay then waits behind this lock, so
        # the request is half-way through its transaction when the server dies.
        blocker = await asyncpg.connect(admin_url)
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("lock table app.bed_stays in share mode")
        client = httpx.AsyncClient(base_url=serve.url, timeout=30)
        admit = asyncio.create_task(client.post("/graphql", headers={
            "authorization": f"Bearer {nurse}"}, json={
            "query": "mutation($input: AdmitPatientInput!) { admitPatient(input: $input) "
                     "{ id } }", "variables": {"input": {"patientId": patient, "bedId": bed}}}))

        async def waiting_on_the_lock() -> bool:
            return any(r["wait_event_type"] == "Lock"
                       for r in await _backends_of_api(admin_url))

        await _until(waiting_on_the_lock, "the admission waits on the lock")
        [killed] = [r["pid"] for r in await _backends_of_api(admin_url)
                    if r["wait_event_type"] == "Lock"]
        # Half-way indeed: it has written the admission (and holds the lock that comes with it).
        assert await admin_fetch(admin_url, "select 1 from pg_locks where pid = $1 and granted "
                                 "and relation = 'app.admissions'::regclass "
                                 "and mode = 'RowExclusiveLock'", killed)
        serve.process.send_signal(signal.SIGKILL)
        serve.process.wait(10)
        await transaction.rollback()
        await blocker.close()
        with contextlib.suppress(httpx.TransportError):
            await admit
        await client.aclose()

        async def backend_gone() -> bool:
            return killed not in {r["pid"] for r in await _backends_of_api(admin_url)}

        # Postgres finds the client gone when the statement ends, and rolls back.
        await _until(backend_gone, "the killed request's backend has ended")
    finally:
        serve.stop()
    rows = await admin_fetch(admin_url, "select count(*) as n from app.admissions "
                             "where tenant_id = $1", own_tenant.tenant_id)
    stays = await admin_fetch(admin_url, "select count(*) as n from app.bed_stays "
                              "where tenant_id = $1", own_tenant.tenant_id)
    assert (rows[0]["n"], stays[0]["n"]) == (0, 0)


async def test_sigterm_lets_an_in_flight_request_finish(
    own_database: EmbeddedPostgres, own_tenant: TenantKit, tmp_path: Path,
) -> None:
    serve = ServeProcess(serve_environment(own_database.url(user="wg_api"), own_database.url()),
                         tmp_path / "serve.log")
    try:
        await serve.wait_ready()
        rest_of_body = asyncio.Event()

        async def slow_body() -> AsyncIterator[bytes]:
            yield b'{"query": "{ facilities(first: 5) { edges { node { code } } } }",'
            await rest_of_body.wait()
            yield b' "variables": {}}'

        async with httpx.AsyncClient(base_url=serve.url, timeout=30) as client:
            in_flight = asyncio.create_task(client.post(
                "/graphql", content=slow_body(), headers={
                    "content-type": "application/json",
                    "authorization": f"Bearer {own_tenant.admin_token}"}))
            await asyncio.sleep(0.5)  # the request's headers and first chunk are in
            serve.process.send_signal(signal.SIGTERM)

            async def refusing_new_connections() -> bool:
                try:
                    async with httpx.AsyncClient(base_url=serve.url, timeout=2) as other:
                        await other.get("/healthz")
                except httpx.TransportError:
                    return True
                return False

            await _until(refusing_new_connections, "the server stops accepting")
            assert serve.process.poll() is None  # still finishing the request
            rest_of_body.set()
            response = await in_flight
        assert response.status_code == 200
        assert response.json() == {"data": {"facilities": {"edges": [{"node": {"code": "DHK"}}]}}}
        assert await asyncio.to_thread(serve.process.wait, 30) == 0
    finally:
        serve.stop()


@pytest.mark.parametrize("error", [
    pytest.param(asyncpg.AdminShutdownError, id="server-shutting-down"),
    pytest.param(asyncpg.CrashShutdownError, id="server-crashed"),
    pytest.param(asyncpg.CannotConnectNowError, id="server-starting-up"),
    pytest.param(asyncpg.ConnectionFailureError, id="connection-failed"),
])
def test_server_going_away_under_a_request_is_service_unavailable(
    error: type[asyncpg.PostgresError],
) -> None:
    mapped = to_app_error(error("gone"))
    assert mapped is not None and mapped.code == "SERVICE_UNAVAILABLE"
