"""Demo data: two tenants (so isolation can be seen), facilities in three time zones, wards,
beds, patients (a few admitted, with vital signs), one user per role and a partner token, plus
tokens to paste."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import asyncpg

from wardgraph.auth.claims import USER_ROLES, Claims, Role
from wardgraph.auth.tokens import hash_password, issue_user_token
from wardgraph.config import Settings
from wardgraph.db import organisation, patients
from wardgraph.db.operator import (
    OPERATOR_STATEMENT_TIMEOUT_MS,
    fetch_tenant_by_slug,
    insert_tenant,
    tenant_admin,
)
from wardgraph.db.session import claimed_transaction
from wardgraph.ops.demo_census import admit_demo_patients

DEMO_PASSWORD = "demo-password-123"
TOKEN_TTL = timedelta(hours=8)

# slug, name, [(code, name, zone)]
TENANTS = (
    ("riverside", "Riverside Health", (("DHK", "Dhaka General", "Asia/Dhaka"),
                                       ("LON", "London Central", "Europe/London"))),
    ("harbour", "Harbour Hospitals", (("NYC", "New York Bay", "America/New_York"),
                                      ("LDN", "Harbour London", "Europe/London"))),
)
WARDS = (("Medical", Decimal("250.00")), ("Surgical", Decimal("320.00")))
BEDS_PER_WARD = 4
PATIENT_NAMES = (("Amina", "Rahman"), ("Oliver", "Smith"), ("Sofia", "Garcia"),
                 ("Kenji", "Tanaka"), ("Grace", "Okafor"), ("Liam", "Murphy"))


@dataclass
class DemoTenant:
    slug: str
    tenant_id: UUID
    users: dict[Role, tuple[UUID, str, tuple[UUID, ...]]] = field(default_factory=dict)


async def seed_tenant(connection: asyncpg.Connection, slug: str, name: str,
                      facilities: tuple[tuple[str, str, str], ...]) -> DemoTenant:
    tenant = await fetch_tenant_by_slug(connection, slug)
    if tenant is None:
        async with connection.transaction():  # a tenant is seeded whole or not at all
            tenant = await _seed_new_tenant(connection, slug, name, facilities)
    demo = DemoTenant(slug=slug, tenant_id=tenant["tenant_id"])
    for role in USER_ROLES:
        row = await connection.fetchrow(
            "select user_id, facility_ids from auth.login_lookup($1, $2)",
            slug, f"{role.value.lower()}@{slug}.example")
        if row is not None:
            demo.users[role] = (row["user_id"], f"{role.value.lower()}@{slug}.example",
                                tuple(row["facility_ids"]))
    return demo


async def _seed_new_tenant(connection: asyncpg.Connection, slug: str, name: str,
                           facilities: tuple[tuple[str, str, str], ...]) -> asyncpg.Record:
    tenant = await insert_tenant(connection, slug, name)
    async with claimed_transaction(
        connection, tenant_admin(tenant["tenant_id"]), "seed-demo", OPERATOR_STATEMENT_TIMEOUT_MS
    ) as session:
        facility_ids: list[UUID] = []
        for index, (code, facility_name, zone) in enumerate(facilities):
            facility = await organisation.insert_facility(
                session, tenant["tenant_id"], code, facility_name, zone, "USD")
            facility_ids.append(facility["id"])
            for ward_name, rate in WARDS:
                ward = await organisation.insert_ward(
                    session, tenant["tenant_id"], facility["id"], ward_name, rate)
                for bed in range(1, BEDS_PER_WARD + 1):
                    await organisation.insert_bed(
                        session, tenant["tenant_id"], facility["id"], ward["id"],
                        f"{ward_name[0]}-{bed:02d}")
            for number, (given, family) in enumerate(PATIENT_NAMES, start=1):
                await patients.insert_patient(
                    session, tenant["tenant_id"], facility["id"],
                    f"{code}-{index}{number:04d}", given, family,
                    date(1950 + number * 7, number, 10 + number))
        for role in USER_ROLES:
            await organisation.insert_user(
                session, tenant["tenant_id"], f"{role.value.lower()}@{slug}.example",
                f"Demo {role.value.title()}", role.value, hash_password(DEMO_PASSWORD),
                facility_ids)
    return tenant


TenantSpec = tuple[str, str, tuple[tuple[str, str, str], ...]]


async def seed_demo(admin_url: str,
                    tenants: tuple[TenantSpec, ...] = TENANTS) -> list[DemoTenant]:
    """Seed the demo tenants that are missing; only those also get patients in their beds (a
    restart never re-admits anyone the demo's users have since discharged)."""
    connection = await asyncpg.connect(admin_url)
    try:
        seeded: list[DemoTenant] = []
        for slug, name, facilities in tenants:
            new = await fetch_tenant_by_slug(connection, slug) is None
            tenant = await seed_tenant(connection, slug, name, facilities)
            if new:
                await admit_demo_patients(connection, tenant.tenant_id, tenant.users)
            seeded.append(tenant)
        return seeded
    finally:
        await connection.close()


def demo_tokens(settings: Settings, tenants: list[DemoTenant]) -> dict[str, dict[str, str]]:
    now = datetime.now(UTC)
    tokens: dict[str, dict[str, str]] = {}
    for tenant in tenants:
        tokens[tenant.slug] = {}
        for role, (user_id, _email, facility_ids) in tenant.users.items():
            claims = Claims(tenant_id=tenant.tenant_id, role=role, user_id=user_id,
                            facility_ids=facility_ids)
            tokens[tenant.slug][role.value] = issue_user_token(settings, claims, now, TOKEN_TTL)
    return tokens


DEMO_QUERY = ("{ viewer { role tenant { name } } "
              "patients(first: 3) { edges { node { mrn givenName familyName } } } }")


def describe(settings: Settings, tenants: list[DemoTenant], url: str) -> str:
    tokens = demo_tokens(settings, tenants)
    lines = ["", "Demo data is ready. Tokens (valid 8 hours):"]
    for slug, by_role in tokens.items():
        lines.append(f"  tenant {slug}  (password for every demo user: {DEMO_PASSWORD})")
        for role, token in by_role.items():
            lines.append(f"    {role:<9} {role.lower()}@{slug}.example")
            lines.append(f"              {token}")
    nurse = tokens[tenants[0].slug]["NURSE"]
    body = json.dumps({"query": DEMO_QUERY})
    lines += [
        "",
        "Try it:",
        f"  curl -s {url} -H 'Content-Type: application/json' \\",
        f"    -H {shlex.quote('Authorization: Bearer ' + nurse)} \\",
        f"    -d {shlex.quote(body)}",
        "",
        "Or open the ward board in a browser and sign in as any demo user:",
        f"  {url.removesuffix('/graphql')}/board  (tenant {tenants[0].slug}, "
        f"nurse@{tenants[0].slug}.example, password {DEMO_PASSWORD})",
        "",
    ]
    return "\n".join(lines)
