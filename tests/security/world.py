"""The world the adversarial matrix attacks, built once for the package.

Two tenants: "home" with facilities HOM (where every caller works) and OTH (where none does),
and "away" with AWY. Each facility is a Site holding one of everything: a ward, an occupied bed,
a patient with an active admission and an escalating observation, the nurse who recorded it, a
partner token that read its patients (a victim for revokePartnerToken, never a caller) and an
audit event about its patient. The callers are home's admin and a user of every other role
working in HOM, a partner token of each single scope reaching HOM, and no token at all.

Mutations that use their objects up (admit, transfer, discharge) get fresh ones from Supplies,
written through the same statements as the API, as the tenant's admin.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from tests.factories import TenantKit, admin_fetch, make_tenant
from tests.harness import Api
from wardgraph import ids
from wardgraph.auth.claims import PARTNER_SCOPES, Role
from wardgraph.db import admissions, organisation, patients
from wardgraph.db.operator import OPERATOR_STATEMENT_TIMEOUT_MS, tenant_admin
from wardgraph.db.session import claimed_transaction

OWN, OTHER_FACILITY, OTHER_TENANT = "own", "other-facility", "other-tenant"
NONEXISTENT, WRONG_TYPE = "nonexistent", "wrong-type"
# The reference first: every other kind's refusal is compared with it byte for byte.
KINDS = (NONEXISTENT, OWN, OTHER_FACILITY, OTHER_TENANT, WRONG_TYPE)
SITE_KINDS = (OWN, OTHER_FACILITY, OTHER_TENANT)

ANONYMOUS = "ANONYMOUS"
USER_CALLERS = ("ADMIN", "CLINICIAN", "NURSE", "BILLING", "AUDITOR")
PARTNER_CALLERS = tuple(f"partner:{scope}" for scope in PARTNER_SCOPES)
CALLERS = (*USER_CALLERS, *PARTNER_CALLERS, ANONYMOUS)

LOGIN_PASSWORD = "a password long enough"

# Scores 3 on respiration, SpO2 and pulse: HIGH risk, so the observation raises an escalation.
ESCALATING_VITALS: dict[str, Any] = {
    "respirationRate": 30, "spo2": 90, "onOxygen": False, "systolicBp": 120, "pulse": 135,
    "consciousness": "ALERT", "temperature": 37.0,
}
NORMAL_VITALS: dict[str, Any] = {
    "respirationRate": 16, "spo2": 97, "onOxygen": False, "systolicBp": 120, "pulse": 70,
    "consciousness": "ALERT", "temperature": 37.0,
}


@dataclass
class Site:
    """One facility and one object of every type in it (global ids)."""

    kit: TenantKit
    code: str
    facility: str
    ward: str
    bed: str
    patient: str
    admission: str
    observation: str
    user: str
    nurse_token: str
    partner_token: str
    audit_event: str = ""

    def id_of(self, type_name: str) -> str:
        found = {
            "Facility": self.facility, "Ward": self.ward, "Bed": self.bed,
            "Patient": self.patient, "Admission": self.admission,
            "Observation": self.observation, "User": self.user,
            "PartnerToken": self.partner_token, "AuditEvent": self.audit_event,
            "Tenant": ids.encode("Tenant", self.kit.tenant_id),
        }
        return found[type_name]

    def uuid_of(self, type_name: str) -> uuid.UUID:
        return ids.decode(self.id_of(type_name), type_name)


class Supplies:
    """Fresh patients, beds and admissions, written as the tenant's admin."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self.connection = connection

    async def patient(self, site: Site) -> str:
        async with claimed_transaction(
            self.connection, tenant_admin(site.kit.tenant_id), "cli", OPERATOR_STATEMENT_TIMEOUT_MS
        ) as session:
            row = await patients.insert_patient(
                session, site.kit.tenant_id, site.uuid_of("Facility"),
                f"MX-{secrets.token_hex(5)}", "Fresh", "Patient", datetime(1970, 1, 1).date())
        return ids.encode("Patient", row["id"])

    async def bed(self, site: Site) -> str:
        async with claimed_transaction(
            self.connection, tenant_admin(site.kit.tenant_id), "cli", OPERATOR_STATEMENT_TIMEOUT_MS
        ) as session:
            row = await organisation.insert_bed(
                session, site.kit.tenant_id, site.uuid_of("Facility"), site.uuid_of("Ward"),
                f"F-{secrets.token_hex(5)}")
        return ids.encode("Bed", row["id"])

    async def admission(self, site: Site) -> str:
        """A fresh patient admitted an hour ago to a fresh bed of the site."""
        patient = ids.decode(await self.patient(site), "Patient")
        bed = ids.decode(await self.bed(site), "Bed")
        at = datetime.now(UTC) - timedelta(hours=1)
        tenant_id = site.kit.tenant_id
        async with claimed_transaction(
            self.connection, tenant_admin(tenant_id), "cli", OPERATOR_STATEMENT_TIMEOUT_MS
        ) as session:
            row = await admissions.insert_admission(
                session, tenant_id, site.uuid_of("Facility"), patient, bed, at, None)
            await admissions.insert_bed_stay(session, tenant_id, row, site.uuid_of("Ward"),
                                             bed, at)
        return ids.encode("Admission", row["id"])


@dataclass
class World:
    api: Api
    admin_url: str
    home: TenantKit
    away: TenantKit
    sites: dict[str, Site]
    tokens: dict[str, str | None]
    login_email: str
    supplies: Supplies
    references: dict[tuple[str, ...], bytes] = field(default_factory=dict)

    def site(self, kind: str) -> Site:
        """The site an id kind is taken from; ids that name nothing go with the caller's."""
        return self.sites.get(kind, self.sites[OWN])

    async def post(self, query: str, variables: dict[str, Any],
                   caller: str) -> httpx.Response:
        return await self.api.post(query, variables, self.tokens[caller])


async def build_site(api: Api, kit: TenantKit, code: str) -> Site:
    """A facility of the kit with one of everything, through GraphQL."""
    facility = await kit.facility(code, "Asia/Dhaka")
    ward = await kit.ward(facility, f"Ward {code}")
    bed = await kit.bed(ward, "M-1")
    patient = await kit.patient(facility, given="Matrix", family=f"Patient {code}")
    admitted = await api.data("""
        mutation($input: AdmitPatientInput!) { admitPatient(input: $input) { id } }""",
        {"input": {"patientId": patient, "bedId": bed}}, kit.admin_token)
    nurse = await kit.user(Role.NURSE, [facility])
    recorded = await api.data("""
        mutation($input: RecordObservationInput!) { recordObservation(input: $input) { id } }""",
        {"input": {"patientId": patient, **ESCALATING_VITALS}}, nurse)
    victim = await kit.partner(["patients:read"], [facility])
    seen = await api.data(
        "{ viewer { partnerToken { id } } patients { edges { node { id } } } }", {}, victim)
    user = await api.data("{ viewer { user { id } } }", {}, nurse)
    # The admin reads the patient: the trail holds events about the site's patient.
    await api.data("query($id: ID!) { patient(id: $id) { id } }", {"id": patient},
                   kit.admin_token)
    # An accrual run, so the facility has a billing watermark.
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    await api.data("mutation($f: ID!, $d: Date!) { "
                   "accrueBedDays(input: {facilityId: $f, through: $d}) { chargesCreated } }",
                   {"f": facility, "d": yesterday}, kit.admin_token)
    site = Site(kit=kit, code=code, facility=facility, ward=ward, bed=bed, patient=patient,
                admission=admitted["admitPatient"]["id"],
                observation=recorded["recordObservation"]["id"],
                user=user["viewer"]["user"]["id"], nurse_token=nurse,
                partner_token=seen["viewer"]["partnerToken"]["id"])
    [event] = await admin_fetch(kit.admin_url, """
        select id from app.audit_events where tenant_id = $1 and patient_ids @> array[$2::uuid]
        order by seq limit 1""", kit.tenant_id, site.uuid_of("Patient"))
    site.audit_event = ids.encode("AuditEvent", event["id"])
    return site


async def seed_bed_day(admin_url: str, site: Site) -> None:
    """One bed-day charge of the site's admission, so billing tables hold rows to probe. No
    request role may write one: the superuser does, as the ledger's functions would."""
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute("""
            insert into app.bed_days (tenant_id, admission_id, facility_id, ward_id, bed_id,
                                      service_date, census_at, rate, currency, accrued_at)
            values ($1, $2, $3, $4, $5, current_date, now(), 250.00, 'USD', now())""",
            site.kit.tenant_id, site.uuid_of("Admission"), site.uuid_of("Facility"),
            site.uuid_of("Ward"), site.uuid_of("Bed"))
    finally:
        await connection.close()


async def build_world(api: Api, admin_url: str) -> World:
    home = await make_tenant(api, admin_url)
    away = await make_tenant(api, admin_url)
    sites = {OWN: await build_site(api, home, "HOM"),
             OTHER_FACILITY: await build_site(api, home, "OTH"),
             OTHER_TENANT: await build_site(api, away, "AWY")}
    for site in sites.values():
        await seed_bed_day(admin_url, site)
    home_facility = [sites[OWN].facility]
    tokens: dict[str, str | None] = {"ADMIN": home.admin_token, ANONYMOUS: None}
    for role in (Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.AUDITOR):
        tokens[role.value] = await home.user(role, home_facility)
    for caller, scope in zip(PARTNER_CALLERS, PARTNER_SCOPES, strict=True):
        tokens[caller] = await home.partner([scope], home_facility)
    login_email = f"login-{secrets.token_hex(4)}@{home.slug}.example"
    await api.data("""
        mutation($input: CreateUserInput!) { createUser(input: $input) { id } }""",
        {"input": {"email": login_email, "role": "NURSE", "facilityIds": home_facility,
                   "password": LOGIN_PASSWORD}}, home.admin_token)
    connection = await asyncpg.connect(admin_url)
    return World(api=api, admin_url=admin_url, home=home, away=away, sites=sites,
                 tokens=tokens, login_email=login_email, supplies=Supplies(connection))
