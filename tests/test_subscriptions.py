"""Live NEWS2 alerts over graphql-transport-ws: each subscriber hears only of escalations its
own role and claims may read; a token that expires or is revoked, or a client that falls a full
queue behind, loses its socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.audit_trail import AUDITED_OBJECTS
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest, LiveServer, settings_for_tests
from tests.serving import (
    acknowledged,
    escalate,
    escalate_many,
    live_server,
    metric,
    next_message,
    silent_for,
    socket_for,
    subscribe,
    wait_for_metric,
)
from wardgraph import ids
from wardgraph.auth.claims import Claims, Role
from wardgraph.auth.tokens import decode_user_token, issue_user_token
from wardgraph.config import Limits
from wardgraph.db.alerts import fetch_alert
from wardgraph.db.session import claimed_transaction

ALERTS = """subscription($wardId: ID) {
  news2Alerts(wardId: $wardId) {
    escalationId patientId wardId observationId total risk redScore raisedAt
  }
}"""
OPEN = "wardgraph_subscriptions_open"
QUIET_SECONDS = 1.5


@pytest.fixture(scope="module")
async def live(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    """A server of its own, so its gauge of open subscriptions counts only this module's."""
    async with live_server(database.api_url, subscription_recheck_seconds=0.2) as pair:
        yield pair


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}


async def subscribed(ws: ClientConnection, variables: dict[str, Any] | None = None) -> None:
    await acknowledged(ws)
    await subscribe(ws, ALERTS, variables)


async def alert_of(ws: ClientConnection) -> dict[str, Any]:
    message = await next_message(ws)
    assert message["type"] == "next", message
    alert: dict[str, Any] = message["payload"]["data"]["news2Alerts"]
    return alert


async def close_code(ws: ClientConnection, within: float = 10.0) -> int | None:
    """The code the server closed the socket with (messages before it are skipped)."""
    try:
        while True:
            await next_message(ws, within)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_no_tenant_facility_or_scope_receives_anothers_alert(
    api: Api, tenant: TenantKit, other_tenant: TenantKit,
) -> None:
    # The session's own live server (real uvicorn), as clients reach it.
    dhk = tenant.facilities["DHK"]
    ctg = await tenant.facility("CTG")
    nurse_a = await tenant.user(Role.NURSE, [dhk])
    nurse_a_ctg = await tenant.user(Role.NURSE, [ctg])
    partner_a_ctg = await tenant.partner(["observations:read"], [ctg])
    nurse_b = await other_tenant.user(Role.NURSE, [other_tenant.facilities["DHK"]])
    patient_a = await tenant.patient(dhk)
    patient_b = await other_tenant.patient(other_tenant.facilities["DHK"])
    already_open = await metric(api, OPEN)

    async with (socket_for(api.base_url, bearer(nurse_a)) as ws_a,
                socket_for(api.base_url, bearer(nurse_a_ctg)) as ws_a_ctg,
                socket_for(api.base_url, bearer(partner_a_ctg)) as ws_partner,
                socket_for(api.base_url, bearer(nurse_b)) as ws_b):
        for ws in (ws_a, ws_a_ctg, ws_partner, ws_b):
            await subscribed(ws)
        await wait_for_metric(api, OPEN, already_open + 4)

        await escalate(api, nurse_b, patient_b)
        alert_b = await alert_of(ws_b)
        assert alert_b["patientId"] == patient_b
        await escalate(api, nurse_a, patient_a)
        alert_a = await alert_of(ws_a)
        assert alert_a["patientId"] == patient_a
        # Tenant A heard of A's escalation only, after B's had long been delivered.
        assert await silent_for(ws_a, QUIET_SECONDS)
        for ws in (ws_a_ctg, ws_partner, ws_b):
            assert await silent_for(ws, QUIET_SECONDS)
    await wait_for_metric(api, OPEN, already_open)


async def test_partner_without_observations_read_receives_nothing(
    api: Api, tenant: TenantKit,
) -> None:
    dhk = tenant.facilities["DHK"]
    partner = await tenant.partner(["patients:read", "admissions:read"], [dhk])
    nurse = await tenant.user(Role.NURSE, [dhk])
    patient = await tenant.patient(dhk)
    async with socket_for(api.base_url, bearer(partner)) as ws:
        await subscribed(ws)
        refused = await next_message(ws)
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "FORBIDDEN"
        await escalate(api, nurse, patient)
        assert await silent_for(ws, QUIET_SECONDS)


async def test_alert_carries_the_escalation_as_stored(
    live: tuple[LiveServer, Api], api: Api, tenant: TenantKit, database: DatabaseUnderTest,
) -> None:
    dhk = tenant.facilities["DHK"]
    nurse = await tenant.user(Role.NURSE, [dhk])
    patient = await tenant.patient(dhk)
    async with socket_for(live[1].base_url, bearer(nurse)) as ws:
        await subscribed(ws)
        await wait_for_metric(live[1], OPEN, 1)
        observation = await escalate(api, nurse, patient)
        alert = await alert_of(ws)
    [row] = await admin_fetch(database.admin_url, "select * from app.escalations "
                              "where tenant_id = $1", tenant.tenant_id)
    assert alert == {
        "escalationId": ids.encode("Escalation", row["id"]), "patientId": patient,
        "wardId": None, "observationId": observation, "total": 3, "risk": "LOW_MEDIUM",
        "redScore": True,
        "raisedAt": row["raised_at"].isoformat(),
    }
    audited = await admin_fetch(database.admin_url, f"select count(*) from {AUDITED_OBJECTS} "
                                "where tenant_id = $1 and object_type = 'Escalation'",
                                tenant.tenant_id)
    assert audited[0]["count"] == 1


async def test_ward_filter_sends_only_that_wards_alerts(
    live: tuple[LiveServer, Api], api: Api, tenant: TenantKit,
) -> None:
    dhk = tenant.facilities["DHK"]
    wards = [await tenant.ward(dhk, name) for name in ("North", "South")]
    beds = [await tenant.bed(ward, "N-1") for ward in wards]
    nurse = await tenant.user(Role.NURSE, [dhk])
    patients = [await tenant.patient(dhk) for _ in wards]
    for patient, bed in zip(patients, beds, strict=True):
        await api.data("""mutation($input: AdmitPatientInput!) {
            admitPatient(input: $input) { id } }""",
            {"input": {"patientId": patient, "bedId": bed}}, tenant.admin_token)
    async with (socket_for(live[1].base_url, bearer(nurse)) as north,
                socket_for(live[1].base_url, bearer(nurse)) as south):
        await subscribed(north, {"wardId": wards[0]})
        await subscribed(south, {"wardId": wards[1]})
        await wait_for_metric(live[1], OPEN, 2)
        await escalate(api, nurse, patients[0])
        alert = await alert_of(north)
        assert (alert["patientId"], alert["wardId"]) == (patients[0], wards[0])
        assert await silent_for(south, QUIET_SECONDS)


# -- row-level security decides, in SQL ----------------------------------------------------------

async def _read_as(database: DatabaseUnderTest, claims: Claims, tenant_id: Any,
                   escalation_id: Any) -> asyncpg.Record | None:
    pool = await asyncpg.create_pool(database.api_url, min_size=1, max_size=1)
    assert pool is not None
    try:
        async with pool.acquire(timeout=5) as connection, claimed_transaction(
                connection, claims, "test", 5000) as session:
            return await fetch_alert(session, tenant_id, escalation_id)
    finally:
        await pool.close()


async def test_reread_under_the_subscribers_claims_is_what_filters(
    api: Api, tenant: TenantKit, other_tenant: TenantKit, database: DatabaseUnderTest,
) -> None:
    dhk = tenant.facilities["DHK"]
    nurse = await tenant.user(Role.NURSE, [dhk])
    await escalate(api, nurse, await tenant.patient(dhk))
    [row] = await admin_fetch(database.admin_url, "select id, facility_id from app.escalations "
                              "where tenant_id = $1", tenant.tenant_id)
    own = Claims(tenant_id=tenant.tenant_id, role=Role.NURSE, user_id=None,
                 facility_ids=(row["facility_id"],))
    other = Claims(tenant_id=other_tenant.tenant_id, role=Role.ADMIN)
    unscoped = Claims(tenant_id=tenant.tenant_id, role=Role.PARTNER,
                      facility_ids=(row["facility_id"],), scopes=("patients:read",))
    assert await _read_as(database, own, tenant.tenant_id, row["id"]) is not None
    # The notice names tenant A; tenant B's admin asking for it by that name sees nothing.
    assert await _read_as(database, other, tenant.tenant_id, row["id"]) is None
    assert await _read_as(database, unscoped, tenant.tenant_id, row["id"]) is None


# -- the socket's lifetime -----------------------------------------------------------------------

@pytest.mark.parametrize("payload_key", ["Authorization", "token"])
async def test_connection_init_authenticates_with_either_form(
    live: tuple[LiveServer, Api], tenant: TenantKit, payload_key: str,
) -> None:
    nurse = await tenant.user(Role.NURSE)
    payload = bearer(nurse) if payload_key == "Authorization" else {"token": nurse}
    async with socket_for(live[1].base_url, payload) as ws:
        await acknowledged(ws)


@pytest.mark.parametrize("payload", [
    pytest.param({}, id="no-token"),
    pytest.param({"Authorization": "Bearer not-a-token"}, id="bad-token"),
])
async def test_connection_init_without_a_valid_token_is_rejected(
    live: tuple[LiveServer, Api], payload: dict[str, Any],
) -> None:
    async with socket_for(live[1].base_url, payload) as ws:
        assert await close_code(ws) == 4403


FAILURES = 3


@pytest.fixture(scope="module")
async def failures_limited(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    """A server of its own: the failures of this address count there alone."""
    async with live_server(database.api_url,
                           limits=Limits(auth_failures_per_minute=FAILURES)) as pair:
        yield pair


async def test_unknown_tokens_at_connection_init_are_limited_by_address_before_any_lookup(
    failures_limited: tuple[LiveServer, Api], tenant: TenantKit,
) -> None:
    base_url = failures_limited[1].base_url
    partner = await tenant.partner(["observations:read"])
    async with socket_for(base_url, bearer(partner)) as ws:
        await acknowledged(ws)
    for token in ("wgp_guess0", "not.a.jwt", "wgp_guess2"):
        async with socket_for(base_url, bearer(token)) as ws:
            assert await close_code(ws) == 4403
    # Over the allowance, even a token that holds is refused before it is looked up.
    for payload in (bearer(partner), {"token": "wgp_another_guess"}):
        async with socket_for(base_url, payload) as ws:
            assert await close_code(ws) == 4403
    refused = await failures_limited[1].post("{ viewer { role } }", token=partner)
    assert refused.status_code == 429, refused.text


async def test_expired_token_closes_the_socket(
    live: tuple[LiveServer, Api], tenant: TenantKit,
) -> None:
    settings = settings_for_tests()
    long_lived = decode_user_token(settings, await tenant.user(Role.NURSE), datetime.now(UTC))
    short = issue_user_token(settings, long_lived, datetime.now(UTC), timedelta(seconds=2))
    async with socket_for(live[1].base_url, bearer(short)) as ws:
        await subscribed(ws)
        assert await close_code(ws) == 4401


async def test_revoked_partner_token_closes_the_socket(
    live: tuple[LiveServer, Api], tenant: TenantKit, database: DatabaseUnderTest,
) -> None:
    partner = await tenant.partner(["observations:read"])
    async with socket_for(live[1].base_url, bearer(partner)) as ws:
        await subscribed(ws)
        await wait_for_metric(live[1], OPEN, 1)
        connection = await asyncpg.connect(database.admin_url)
        try:
            await connection.execute("update app.partner_tokens set revoked_at = now() "
                                     "where tenant_id = $1", tenant.tenant_id)
        finally:
            await connection.close()
        assert await close_code(ws) == 4401


async def test_slow_subscriber_is_closed_when_its_queue_overflows(
    database: DatabaseUnderTest, api: Api, tenant: TenantKit,
) -> None:
    from wardgraph.config import Limits

    dhk = tenant.facilities["DHK"]
    nurse = await tenant.user(Role.NURSE, [dhk])
    patient = await tenant.patient(dhk)
    async with live_server(database.api_url, limits=Limits(subscription_queue_size=2)) as (
            _, slow_api):
        async with socket_for(slow_api.base_url, bearer(nurse)) as ws:
            await subscribed(ws)
            await wait_for_metric(slow_api, OPEN, 1)
            await escalate_many(api, nurse, patient, 20)
            assert await close_code(ws) == 4008
        assert await metric(slow_api, "wardgraph_slow_subscribers_closed_total") == 1


async def test_closing_the_socket_ends_the_subscription(
    live: tuple[LiveServer, Api], tenant: TenantKit,
) -> None:
    nurse = await tenant.user(Role.NURSE)
    async with socket_for(live[1].base_url, bearer(nurse)) as ws:
        await subscribed(ws)
        await wait_for_metric(live[1], OPEN, 1)
    await wait_for_metric(live[1], OPEN, 0)


async def test_queries_over_the_socket_are_refused(
    live: tuple[LiveServer, Api], tenant: TenantKit,
) -> None:
    async with socket_for(live[1].base_url, bearer(tenant.admin_token)) as ws:
        await acknowledged(ws)
        await subscribe(ws, "{ viewer { role } }")
        refused = await next_message(ws)
        assert refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
