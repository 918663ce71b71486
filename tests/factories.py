"""Building what a test needs through the public surface: a tenant (the operator's step), then
facilities, wards, beds, users and patients through GraphQL as the tenant's admin."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg

from tests.harness import Api, settings_for_tests
from wardgraph import ids
from wardgraph.auth.claims import Claims, Role
from wardgraph.auth.tokens import issue_user_token, new_partner_token
from wardgraph.db import organisation, partner_tokens
from wardgraph.db.operator import OPERATOR_STATEMENT_TIMEOUT_MS, insert_tenant, tenant_admin
from wardgraph.db.session import claimed_transaction

TOKEN_TTL = timedelta(days=3650)  # tests pin clocks in any year; tokens must outlive them


def token_for(tenant_id: UUID, role: Role, user_id: UUID,
              facility_ids: tuple[UUID, ...] = ()) -> str:
    claims = Claims(tenant_id=tenant_id, role=role, user_id=user_id, facility_ids=facility_ids)
    return issue_user_token(settings_for_tests(), claims, datetime(2000, 1, 1, tzinfo=UTC),
                            timedelta(days=365 * 60))


@dataclass
class TenantKit:
    api: Api
    admin_url: str
    slug: str
    tenant_id: UUID
    admin_token: str
    facilities: dict[str, str] = field(default_factory=dict)  # code -> global id

    async def facility(self, code: str, timezone: str = "Asia/Dhaka") -> str:
        data = await self.api.data(
            """mutation($input: CreateFacilityInput!) { createFacility(input: $input) { id } }""",
            {"input": {"code": code, "name": f"Facility {code}", "timezone": timezone}},
            self.admin_token)
        self.facilities[code] = data["createFacility"]["id"]
        return str(data["createFacility"]["id"])

    async def ward(self, facility_id: str, name: str = "Medical", rate: str = "250.00") -> str:
        data = await self.api.data(
            """mutation($input: CreateWardInput!) { createWard(input: $input) { id } }""",
            {"input": {"facilityId": facility_id, "name": name, "dailyRate": rate}},
            self.admin_token)
        return str(data["createWard"]["id"])

    async def bed(self, ward_id: str, label: str) -> str:
        data = await self.api.data(
            """mutation($input: CreateBedInput!) { createBed(input: $input) { id } }""",
            {"input": {"wardId": ward_id, "label": label}}, self.admin_token)
        return str(data["createBed"]["id"])

    async def beds(self, ward_id: str, count: int) -> list[str]:
        return [await self.bed(ward_id, f"B-{n:03d}") for n in range(1, count + 1)]

    async def user(self, role: Role, facility_ids: list[str] | None = None) -> str:
        """A user of `role` in the given facilities; returns a bearer token."""
        facility_ids = facility_ids if facility_ids is not None else list(
            self.facilities.values())
        email = f"{role.value.lower()}-{secrets.token_hex(4)}@{self.slug}.example"
        data = await self.api.data(
            """mutation($input: CreateUserInput!) { createUser(input: $input) { id } }""",
            {"input": {"email": email, "role": role.value, "facilityIds": facility_ids}},
            self.admin_token)
        user_id = ids.decode(data["createUser"]["id"], "User")
        return token_for(self.tenant_id, role, user_id,
                         tuple(ids.decode(f, "Facility") for f in facility_ids))

    async def partner(self, scopes: list[str], facility_ids: list[str] | None = None,
                      expires_at: datetime | None = None) -> str:
        """A partner token with these scopes and facilities (all of the tenant's by default);
        issued as the tenant's admin through the same statements as createPartnerToken."""
        facility_ids = facility_ids if facility_ids is not None else list(
            self.facilities.values())
        token, token_hash = new_partner_token()
        connection = await asyncpg.connect(self.admin_url)
        try:
            async with claimed_transaction(
                connection, tenant_admin(self.tenant_id), "cli", OPERATOR_STATEMENT_TIMEOUT_MS
            ) as session:
                await partner_tokens.insert_partner_token(
                    session, self.tenant_id, f"partner {secrets.token_hex(3)}", token_hash,
                    scopes, [ids.decode(f, "Facility") for f in facility_ids],
                    expires_at or datetime.now(UTC) + TOKEN_TTL, None)
        finally:
            await connection.close()
        return token

    async def patient(self, facility_id: str, mrn: str | None = None,
                      given: str = "Ada", family: str = "Lovelace") -> str:
        data = await self.api.data(
            """mutation($input: CreatePatientInput!) { createPatient(input: $input) { id } }""",
            {"input": {"mrn": mrn or f"MRN-{secrets.token_hex(4)}", "givenName": given,
                       "familyName": family, "birthDate": "1960-05-01",
                       "facilityId": facility_id}},
            self.admin_token)
        return str(data["createPatient"]["id"])


async def make_tenant(api: Api, admin_url: str, slug: str | None = None) -> TenantKit:
    """A new tenant with an admin user (the operator's CLI step), ready for GraphQL."""
    slug = slug or f"t-{secrets.token_hex(5)}"
    connection = await asyncpg.connect(admin_url)
    try:
        async with connection.transaction():
            tenant = await insert_tenant(connection, slug, f"Tenant {slug}")
            async with claimed_transaction(
                connection, tenant_admin(tenant["tenant_id"]), "cli", OPERATOR_STATEMENT_TIMEOUT_MS
            ) as session:
                admin = await organisation.insert_user(
                    session, tenant["tenant_id"], f"admin@{slug}.example", "Admin", "ADMIN",
                    None, [])
    finally:
        await connection.close()
    token = token_for(tenant["tenant_id"], Role.ADMIN, admin["id"])
    return TenantKit(api=api, admin_url=admin_url, slug=slug, tenant_id=tenant["tenant_id"],
                     admin_token=token)


async def admin_fetch(admin_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Read as the migration role (superuser in tests), bypassing RLS: for assertions only."""
    connection = await asyncpg.connect(admin_url)
    try:
        rows: list[asyncpg.Record] = await connection.fetch(sql, *args)
        return rows
    finally:
        await connection.close()
