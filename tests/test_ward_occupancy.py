"""A ward's beds come with their occupants in one statement (db/ward_occupancy.py). For every
role and partner scope, the dashboard answers exactly what the statements it replaces answered
(data, errors, audit events), and each role gets only the joins its grants allow."""

from __future__ import annotations

import asyncpg
import pytest

from tests.dashboard import DASHBOARD, Ward, occupied_ward
from tests.factories import TenantKit
from tests.in_process import Answer, answer, ward_variables
from wardgraph.auth.claims import Role
from wardgraph.db import ward_occupancy

ROLES = [Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.AUDITOR]
SCOPES = [["patients:read", "admissions:read", "observations:read"],
          ["patients:read", "admissions:read"], ["admissions:read"], ["patients:read"], []]


@pytest.fixture
async def ward(tenant: TenantKit) -> Ward:
    return await occupied_ward(tenant, 3)


async def joined_and_apart(pool: asyncpg.Pool, token: str, ward: Ward,
                           monkeypatch: pytest.MonkeyPatch) -> tuple[Answer, Answer]:
    joined = await answer(pool, True, token, DASHBOARD, ward_variables(ward))
    with monkeypatch.context() as apart:
        apart.setattr(ward_occupancy, "STATEMENTS", {})  # every role: beds alone
        separate = await answer(pool, True, token, DASHBOARD, ward_variables(ward))
    return joined, separate


def same(one: Answer, other: Answer) -> bool:
    return (one.data, one.errors, one.audit) == (other.data, other.errors, other.audit)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
async def test_each_role_sees_the_same_beds_joined_or_apart(
    pool: asyncpg.Pool, tenant: TenantKit, ward: Ward, role: Role,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await tenant.user(role, [tenant.facilities["DHK"]])
    joined, separate = await joined_and_apart(pool, token, ward, monkeypatch)
    assert same(joined, separate)


@pytest.mark.parametrize("scopes", SCOPES, ids=lambda s: "+".join(s) or "none")
async def test_each_partner_sees_the_same_beds_joined_or_apart(
    pool: asyncpg.Pool, tenant: TenantKit, ward: Ward, scopes: list[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    token = await tenant.partner(scopes, [tenant.facilities["DHK"]])
    joined, separate = await joined_and_apart(pool, token, ward, monkeypatch)
    assert same(joined, separate)


async def test_a_nurse_of_another_facility_is_answered_the_same_joined_or_apart(
    pool: asyncpg.Pool, tenant: TenantKit, ward: Ward, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = await tenant.facility("ELS", "Europe/London")
    token = await tenant.user(Role.NURSE, [elsewhere])
    joined, separate = await joined_and_apart(pool, token, ward, monkeypatch)
    assert same(joined, separate)


async def test_the_nurses_dashboard_shows_every_occupant_from_the_joined_statement(
    pool: asyncpg.Pool, ward: Ward
) -> None:
    joined = await answer(pool, True, ward.nurse, DASHBOARD, ward_variables(ward))
    beds = joined.data["ward"]["beds"]
    assert [b["currentAdmission"]["patient"]["latestObservation"]["pulse"] for b in beds] == [
        118, 118, 118]


@pytest.mark.parametrize(("role", "joins"), [
    (Role.AUDITOR, None),
    (Role.BILLING, ward_occupancy.FETCH_BEDS_WITH_ADMISSIONS),
    (Role.NURSE, ward_occupancy.FETCH_BEDS_WITH_OCCUPANTS),
    (Role.PARTNER, ward_occupancy.FETCH_BEDS_WITH_OCCUPANTS),
], ids=["auditor", "billing", "nurse", "partner"])
def test_each_role_joins_only_the_tables_it_is_granted(role: Role, joins: str | None) -> None:
    assert ward_occupancy.statement_for(role) is joins
    if joins is not None:
        assert ("app.observations" in joins) is (role is not Role.BILLING)
