"""`seed-demo` puts a few patients in each ward's beds of a newly seeded demo tenant, with one
set of vital signs each, written as the API writes them; seen here through GraphQL and the CLI."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from typing import Any

import asyncpg
import pytest

from tests.harness import TEST_SECRET, Api, DatabaseUnderTest
from wardgraph.ops.demo import DEMO_PASSWORD, TENANTS, TenantSpec, seed_demo, seed_tenant

WARDS = "{ facilities(first: 10) { edges { node { code wards { id name } } } } }"
# What the ward board asks for each ward: who is in which bed, and their latest NEWS2.
BEDS = """query($id: ID!) { ward(id: $id) { beds { label currentAdmission {
  number status stays { bed { label } endedAt }
  patient { latestObservation { ward { name } recordedBy { email } news2 { total risk } } }
} } } }"""


def demo_spec(slug: str) -> TenantSpec:
    _, name, facilities = TENANTS[0]
    return slug, name, facilities


@pytest.fixture
def slug() -> str:
    return f"census-{secrets.token_hex(4)}"


async def nurse_token(api: Api, slug: str) -> str:
    data = await api.data(
        "mutation($i: LoginInput!) { login(input: $i) { token } }",
        {"i": {"tenant": slug, "email": f"nurse@{slug}.example", "password": DEMO_PASSWORD}})
    return str(data["login"]["token"])


async def wards_seen_by_nurse(api: Api, slug: str) -> dict[tuple[str, str], list[Any]]:
    token = await nurse_token(api, slug)
    data = await api.data(WARDS, {}, token)
    return {(edge["node"]["code"], ward["name"]):
            (await api.data(BEDS, {"id": ward["id"]}, token))["ward"]["beds"]
            for edge in data["facilities"]["edges"] for ward in edge["node"]["wards"]}


def cli(database: DatabaseUnderTest, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WARDGRAPH_DATABASE_URL": database.api_url,
           "WARDGRAPH_ADMIN_DATABASE_URL": database.admin_url,
           "WARDGRAPH_JWT_SECRET": TEST_SECRET}
    return subprocess.run([sys.executable, "-m", "wardgraph.ops.cli", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


async def test_seed_demo_admits_three_patients_per_ward_scored_low_medium_high(
    api: Api, database: DatabaseUnderTest, slug: str
) -> None:
    await seed_demo(database.admin_url, (demo_spec(slug),))
    wards = await wards_seen_by_nurse(api, slug)
    assert set(wards) == {("DHK", "Medical"), ("DHK", "Surgical"),
                          ("LON", "Medical"), ("LON", "Surgical")}
    numbers = []
    for (code, ward), beds in wards.items():
        occupied = [b for b in beds if b["currentAdmission"] is not None]
        assert [b["label"] for b in occupied] == [f"{ward[0]}-01", f"{ward[0]}-02",
                                                  f"{ward[0]}-03"]
        assert beds[3]["currentAdmission"] is None
        scores = []
        for bed in occupied:
            admission = bed["currentAdmission"]
            assert admission["status"] == "ACTIVE"
            assert admission["stays"] == [{"bed": {"label": bed["label"]}, "endedAt": None}]
            observation = admission["patient"]["latestObservation"]
            assert observation["ward"] == {"name": ward}  # placed by the open bed stay
            assert observation["recordedBy"] == {"email": f"nurse@{slug}.example"}
            scores.append(observation["news2"])
            numbers.append(admission["number"])
        assert scores == [{"total": 0, "risk": "LOW"}, {"total": 5, "risk": "MEDIUM"},
                          {"total": 10, "risk": "HIGH"}], (code, ward)
    # Numbered by the admissions trigger, gapless per facility and year: 1..6 at each.
    for code in ("DHK", "LON"):
        assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers
                      if n.startswith(f"{code}-")) == [1, 2, 3, 4, 5, 6]


async def test_seed_demo_raises_an_escalation_for_each_medium_and_high_score(
    database: DatabaseUnderTest, slug: str
) -> None:
    [tenant] = await seed_demo(database.admin_url, (demo_spec(slug),))
    connection = await asyncpg.connect(database.admin_url)
    try:
        rows = await connection.fetch(
            "select news2_risk::text as risk from app.escalations where tenant_id = $1",
            tenant.tenant_id)
    finally:
        await connection.close()
    assert sorted(r["risk"] for r in rows) == ["HIGH"] * 4 + ["MEDIUM"] * 4


async def test_seed_demo_leaves_billing_and_audit_verify_passing(
    database: DatabaseUnderTest, slug: str
) -> None:
    await seed_demo(database.admin_url, (demo_spec(slug),))
    for command in (("billing", "verify", "--tenant", slug), ("audit", "verify", "--tenant", slug)):
        result = cli(database, *command)
        assert result.returncode == 0, (command, result.stdout, result.stderr)


async def test_seed_demo_admits_nobody_into_a_tenant_that_already_existed(
    api: Api, database: DatabaseUnderTest, slug: str
) -> None:
    connection = await asyncpg.connect(database.admin_url)
    try:
        await seed_tenant(connection, *demo_spec(slug))
    finally:
        await connection.close()
    await seed_demo(database.admin_url, (demo_spec(slug),))
    wards = await wards_seen_by_nurse(api, slug)
    assert all(bed["currentAdmission"] is None for beds in wards.values() for bed in beds)


async def test_seed_demo_run_twice_admits_each_patient_once(
    api: Api, database: DatabaseUnderTest, slug: str
) -> None:
    await seed_demo(database.admin_url, (demo_spec(slug),))
    await seed_demo(database.admin_url, (demo_spec(slug),))
    wards = await wards_seen_by_nurse(api, slug)
    assert sum(bed["currentAdmission"] is not None
               for beds in wards.values() for bed in beds) == 12


async def test_seed_demo_audits_each_admission_by_the_admin_and_observation_by_the_nurse(
    database: DatabaseUnderTest, slug: str
) -> None:
    [tenant] = await seed_demo(database.admin_url, (demo_spec(slug),))
    connection = await asyncpg.connect(database.admin_url)
    try:
        rows = await connection.fetch(
            "select e.actor_role, o->>'objectType' as object_type, count(*) as n "
            "from app.audit_events e cross join lateral jsonb_array_elements(e.objects) o "
            "where e.tenant_id = $1 and o->>'operation' = 'CREATE' group by 1, 2",
            tenant.tenant_id)
    finally:
        await connection.close()
    assert {(r["actor_role"], r["object_type"]): r["n"] for r in rows} == {
        ("ADMIN", "Admission"): 12, ("NURSE", "Observation"): 12}
