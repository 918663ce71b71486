"""Live alerts are delivered exactly once to every subscriber that may see them: when the
listener's connection is killed while alerts are raised, on every process of a deployment,
and to a subscriber that resumes after its own reconnect; each person who receives an alert
has one disclosure event in the audit trail."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection

from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest, LiveServer, settings_for_tests
from tests.serving import (
    ServeProcess,
    acknowledged,
    escalate,
    live_server,
    metric,
    next_message,
    serve_environment,
    silent_for,
    socket_for,
    subscribe,
    wait_for_metric,
)
from wardgraph import ids
from wardgraph.auth.claims import Role
from wardgraph.auth.tokens import decode_user_token
from wardgraph.server.alert_hub import LISTENER_NAME

ALERTS = """subscription($after: ID) { news2Alerts(after: $after) { escalationId patientId } }"""
OPEN = "wardgraph_subscriptions_open"
LISTENING = "wardgraph_alert_listener_up"
REPLAYED = "wardgraph_alerts_replayed_total"

KILL_LISTENERS = """
select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = $1
"""


@pytest.fixture
async def own_live(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    async with live_server(database.api_url) as pair:
        yield pair


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


async def subscribed(ws: ClientConnection, after: str | None = None) -> None:
    await acknowledged(ws)
    await subscribe(ws, ALERTS, {"after": after})


async def received(ws: ClientConnection, quiet: float = 1.5) -> list[str]:
    """The escalation ids sent to `ws` until it has been quiet for `quiet` seconds."""
    got: list[str] = []
    with contextlib.suppress(TimeoutError):
        while True:
            message = await next_message(ws, quiet)
            assert message["type"] == "next", message
            got.append(message["payload"]["data"]["news2Alerts"]["escalationId"])
    return got


async def escalation_ids(admin_url: str, tenant_id: Any, facility: str) -> list[str]:
    rows = await admin_fetch(admin_url, "select id from app.escalations where tenant_id = $1 "
                             "and facility_id = $2 order by seq",
                             tenant_id, ids.decode(facility, "Facility"))
    return [ids.encode("Escalation", row["id"]) for row in rows]


async def test_every_alert_reaches_every_subscriber_once_while_the_listener_is_killed(
    own_live: tuple[LiveServer, Api], api: Api, tenant: TenantKit, other_tenant: TenantKit,
    database: DatabaseUnderTest,
) -> None:
    live = own_live[1]
    dhk, ctg = tenant.facilities["DHK"], await tenant.facility("CTG")
    nurse_dhk = await tenant.user(Role.NURSE, [dhk])
    nurse_ctg = await tenant.user(Role.NURSE, [ctg])
    partner = await tenant.partner(["observations:read"], [dhk])
    nurse_b = await other_tenant.user(Role.NURSE)
    patients = {dhk: await tenant.patient(dhk), ctg: await tenant.patient(ctg)}
    recorders = {dhk: nurse_dhk, ctg: nurse_ctg}
    tokens = [nurse_dhk, nurse_dhk, partner, nurse_ctg, nurse_b]
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(socket_for(live.base_url, bearer(token)))
                   for token in tokens]
        for ws in sockets:
            await subscribed(ws)
        await wait_for_metric(live, OPEN, len(sockets))
        await wait_for_metric(live, LISTENING, 1)

        async def raise_alerts() -> None:
            for n in range(24):
                facility = ctg if n % 4 == 3 else dhk
                await escalate(api, recorders[facility], patients[facility])
                await asyncio.sleep(0.05)

        raising = asyncio.create_task(raise_alerts())
        killed = 0
        connection = await asyncpg.connect(database.admin_url)
        try:
            while not raising.done():
                await asyncio.sleep(0.3)
                killed += await connection.fetchval(KILL_LISTENERS, LISTENER_NAME)
        finally:
            await connection.close()
        await raising
        assert killed >= 2
        # Some alerts were raised while no listener was connected: the replay delivered them.
        assert await metric(live, REPLAYED) > 0
        got = [await received(ws) for ws in sockets]

    raised_dhk = await escalation_ids(database.admin_url, tenant.tenant_id, dhk)
    raised_ctg = await escalation_ids(database.admin_url, tenant.tenant_id, ctg)
    assert (len(raised_dhk), len(raised_ctg)) == (18, 6)
    # Exactly once each, in the order raised; nothing from a facility or tenant not theirs.
    for alerts in got[:3]:
        assert Counter(alerts) == Counter(raised_dhk)
    assert Counter(got[3]) == Counter(raised_ctg)
    assert got[4] == []


async def test_a_subscriber_resumes_after_the_last_alert_it_saw(
    own_live: tuple[LiveServer, Api], api: Api, tenant: TenantKit,
) -> None:
    live = own_live[1]
    dhk = tenant.facilities["DHK"]
    nurse = await tenant.user(Role.NURSE, [dhk])
    patient = await tenant.patient(dhk)
    async with socket_for(live.base_url, bearer(nurse)) as ws:
        await subscribed(ws)
        await wait_for_metric(live, OPEN, 1)
        await escalate(api, nurse, patient)
        [seen] = await received(ws, 1.0)
    await wait_for_metric(live, OPEN, 0)
    for _ in range(2):
        await escalate(api, nurse, patient)
    async with socket_for(live.base_url, bearer(nurse)) as ws:
        await subscribed(ws, after=seen)
        missed = [(await next_message(ws))["payload"]["data"]["news2Alerts"]["escalationId"]
                  for _ in range(2)]
        await escalate(api, nurse, patient)
        new = await received(ws, 1.0)
    raised = await escalation_ids(api_admin_url(tenant), tenant.tenant_id, dhk)
    assert [seen, *missed, *new] == raised
    assert len(raised) == 4


def api_admin_url(tenant: TenantKit) -> str:
    return tenant.admin_url


async def test_resuming_after_an_alert_one_may_not_see_is_not_found(
    own_live: tuple[LiveServer, Api], api: Api, tenant: TenantKit, other_tenant: TenantKit,
) -> None:
    dhk_b = other_tenant.facilities["DHK"]
    nurse_b = await other_tenant.user(Role.NURSE, [dhk_b])
    await escalate(api, nurse_b, await other_tenant.patient(dhk_b))
    [theirs] = await escalation_ids(other_tenant.admin_url, other_tenant.tenant_id, dhk_b)
    nurse_a = await tenant.user(Role.NURSE)
    async with socket_for(own_live[1].base_url, bearer(nurse_a)) as ws:
        await subscribed(ws, after=theirs)
        refused = await next_message(ws)
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_each_person_receiving_an_alert_has_one_disclosure_event(
    own_live: tuple[LiveServer, Api], api: Api, tenant: TenantKit, database: DatabaseUnderTest,
) -> None:
    live = own_live[1]
    dhk = tenant.facilities["DHK"]
    first, second = [await tenant.user(Role.NURSE, [dhk]) for _ in range(2)]
    patient = await tenant.patient(dhk)
    async with (socket_for(live.base_url, bearer(first)) as one,
                socket_for(live.base_url, bearer(first)) as same_person,
                socket_for(live.base_url, bearer(second)) as other_person):
        for ws in (one, same_person, other_person):
            await subscribed(ws)
        await wait_for_metric(live, OPEN, 3)
        await escalate(api, first, patient)
        for ws in (one, same_person, other_person):
            assert len(await received(ws, 1.0)) == 1
    events = await admin_fetch(database.admin_url, "select actor_id, actor_role, patient_ids "
                               "from app.audit_events where tenant_id = $1 and objects @> "
                               "'[{\"objectType\": \"Escalation\"}]'", tenant.tenant_id)
    now = datetime.now(UTC)
    people = {decode_user_token(settings_for_tests(), token, now).user_id
              for token in (first, second)}
    assert sorted(str(e["actor_id"]) for e in events) == sorted(str(p) for p in people)
    assert {e["actor_role"] for e in events} == {"NURSE"}
    assert [[ids.encode("Patient", p) for p in e["patient_ids"]] for e in events] == [
        [patient], [patient]]


async def test_a_subscriber_on_either_of_two_processes_gets_every_alert_once(
    database: DatabaseUnderTest, api: Api, tenant: TenantKit, tmp_path: Path,
) -> None:
    dhk = tenant.facilities["DHK"]
    nurse = await tenant.user(Role.NURSE, [dhk])
    patient = await tenant.patient(dhk)
    servers = [ServeProcess(serve_environment(database.api_url, database.admin_url),
                            tmp_path / f"serve-{n}.log") for n in range(2)]
    try:
        await asyncio.gather(*(server.wait_ready() for server in servers))
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(socket_for(server.url, bearer(nurse)))
                       for server in servers for _ in range(2)]
            for ws in sockets:
                await subscribed(ws)
            for server in servers:
                await wait_for_metric(Api(server.url), OPEN, 2)
            for _ in range(5):
                await escalate(api, nurse, patient)
            got = [await received(ws) for ws in sockets]
            assert all(await asyncio.gather(*(silent_for(ws, 0.5) for ws in sockets)))
    finally:
        for server in servers:
            server.stop()
    raised = await escalation_ids(database.admin_url, tenant.tenant_id, dhk)
    assert len(raised) == 5
    assert all(alerts == raised for alerts in got)
