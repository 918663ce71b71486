"""Grouped delivery of live alerts delivers exactly what per-subscriber re-reads would: for
generated subscribers (roles, facility sets including another tenant's, scopes, partner
tokens, ward filters, two tenants), the hub's one read per group hands each subscriber the same
escalations as reading each one under that subscriber's own claims."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.serving import escalate
from wardgraph import ids
from wardgraph.auth.claims import Claims, Role
from wardgraph.db.alerts import fetch_alert
from wardgraph.db.session import claimed_transaction
from wardgraph.server.alert_hub import AlertHub, Notice, Subscriber
from wardgraph.server.metrics import Metrics

SCOPES = ("observations:read", "patients:read", "observations:write")
ROLES = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.PARTNER)


@dataclass(frozen=True)
class World:
    tenants: tuple[UUID, UUID]
    facilities: tuple[UUID, ...]  # of both tenants
    wards: tuple[UUID, ...]
    notices: tuple[Notice, ...]


@pytest.fixture
async def world(api: Api, database: DatabaseUnderTest, tenant: TenantKit,
                other_tenant: TenantKit) -> World:
    """Escalations in two facilities of one tenant (one on a ward, one not admitted) and one
    of another tenant."""
    ctg = await tenant.facility("CTG")
    dhk_a, dhk_b = tenant.facilities["DHK"], other_tenant.facilities["DHK"]
    ward = await tenant.ward(dhk_a, "North")
    bed = await tenant.bed(ward, "N-1")
    admitted = await tenant.patient(dhk_a)
    await api.data("mutation($input: AdmitPatientInput!) { admitPatient(input: $input) { id } }",
                   {"input": {"patientId": admitted, "bedId": bed}}, tenant.admin_token)
    for kit, facility, patient in ((tenant, dhk_a, admitted),
                                   (tenant, dhk_a, await tenant.patient(dhk_a)),
                                   (tenant, ctg, await tenant.patient(ctg)),
                                   (other_tenant, dhk_b, await other_tenant.patient(dhk_b))):
        await escalate(api, await kit.user(Role.NURSE, [facility]), patient)
    rows = await admin_fetch(database.admin_url, "select tenant_id, id from app.escalations "
                             "where tenant_id = any($1::uuid[]) order by seq",
                             [tenant.tenant_id, other_tenant.tenant_id])
    assert len(rows) == 4
    return World(
        tenants=(tenant.tenant_id, other_tenant.tenant_id),
        facilities=tuple(ids.decode(f, "Facility") for f in (dhk_a, ctg, dhk_b)),
        wards=(ids.decode(ward, "Ward"),),
        notices=tuple(Notice(r["tenant_id"], r["id"]) for r in rows))


@st.composite
def subscribers(draw: st.DrawFn, world: World) -> Claims:
    role = draw(st.sampled_from(ROLES))
    tenant = draw(st.sampled_from(world.tenants))
    facilities = tuple(draw(st.lists(st.sampled_from(world.facilities), max_size=3)))
    partner = role is Role.PARTNER
    return Claims(
        tenant_id=tenant, role=role,
        user_id=None if partner else draw(st.sampled_from([uuid4(), uuid4()])),
        partner_token_id=uuid4() if partner else None, facility_ids=facilities,
        scopes=tuple(draw(st.lists(st.sampled_from(SCOPES), unique=True))) if partner else ())


async def own_reads(pool: asyncpg.Pool, claims: Claims, ward_id: UUID | None,
                    notices: tuple[Notice, ...]) -> list[UUID]:
    """What the subscriber would receive re-reading every notice under its own claims."""
    seen: list[UUID] = []
    async with pool.acquire() as connection, claimed_transaction(
            connection, claims, "test", 5000) as session:
        for notice in notices:
            if notice.tenant_id != claims.tenant_id:
                continue  # notices are routed by tenant, before any read
            row = await fetch_alert(session, notice.tenant_id, notice.escalation_id)
            if row is not None and (ward_id is None or row["ward_id"] == ward_id):
                seen.append(row["id"])
    return seen


def drained(subscriber: Subscriber) -> list[UUID]:
    rows = []
    while not subscriber.queue.empty():
        row = subscriber.queue.get_nowait()
        assert row is not None
        rows.append(row["id"])
    return rows


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_grouped_delivery_equals_per_subscriber_rereads(
    data: st.DataObject, world: World, pool: asyncpg.Pool, database: DatabaseUnderTest,
) -> None:
    population = data.draw(st.lists(
        st.tuples(subscribers(world), st.sampled_from((None, *world.wards))),
        min_size=1, max_size=8))
    hub = AlertHub(database.api_url, 5.0, Metrics(), pool)
    members = [Subscriber(claims, ward, "test", 100) for claims, ward in population]
    for member in members:
        hub.subscribe(member)
    await hub.deliver(list(world.notices))
    for member in members:
        expected = await own_reads(pool, member.claims, member.ward_id, world.notices)
        assert drained(member) == expected, member.claims
