"""Where a patient was ever admitted is stored on the patient (admitted_facility_ids): the
trigger keeps it for whoever admits, the patients policies read it, no request role writes it,
and the migration that adds it fills it from the admissions already held."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.admitting import DISCHARGE, TRANSFER, admit, beds, discharge_input, transfer_input
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.seeding import Shape, seed
from tests.sql_roles import as_role
from wardgraph import ids
from wardgraph.auth.claims import Role
from wardgraph.migrations import runner

PATIENT = "query($id: ID!) { patient(id: $id) { id mrn } }"


def uuid_of(global_id: str) -> uuid.UUID:
    parsed = ids.parse(global_id)
    assert parsed is not None
    return parsed[1]


@dataclass
class TwoFacilities:
    """Facility A (DHK) and B (CTG) of one tenant, each with a ward of beds; a nurse working in
    both (who may admit A's patients to B), and a nurse of B alone."""

    kit: TenantKit
    a: str
    b: str
    beds_a: list[str]
    beds_b: list[str]
    nurse_ab: str
    nurse_b: str


@pytest.fixture
async def two(tenant: TenantKit) -> TwoFacilities:
    a = tenant.facilities["DHK"]
    b = await tenant.facility("CTG", "Asia/Dhaka")
    beds_a = await beds(tenant, await tenant.ward(a), 2)
    beds_b = await beds(tenant, await tenant.ward(b), 2)
    return TwoFacilities(tenant, a, b, beds_a, beds_b,
                         await tenant.user(Role.NURSE, [a, b]),
                         await tenant.user(Role.NURSE, [b]))


async def admitted_facilities(database: DatabaseUnderTest, patient: str) -> list[uuid.UUID]:
    rows = await admin_fetch(database.admin_url,
                             "select admitted_facility_ids from app.patients where id = $1",
                             uuid_of(patient))
    return list(rows[0]["admitted_facility_ids"])


async def sees(api: Api, token: str, patient: str) -> bool:
    body = await api.gql(PATIENT, {"id": patient}, token)
    if body.get("errors"):
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND", body
        return False
    return bool(body["data"]["patient"] is not None)


async def test_a_new_patient_was_admitted_nowhere(
    database: DatabaseUnderTest, two: TwoFacilities
) -> None:
    patient = await two.kit.patient(two.a)
    assert await admitted_facilities(database, patient) == []


async def test_admitting_adds_the_facility_once_and_a_transfer_keeps_it(
    api: Api, database: DatabaseUnderTest, two: TwoFacilities
) -> None:
    patient = await two.kit.patient(two.a)
    start = datetime.now(UTC) - timedelta(hours=6)
    first = await admit(api, two.nurse_ab, patient, two.beds_b[0], start)
    assert await admitted_facilities(database, patient) == [uuid_of(two.b)]
    await api.data(TRANSFER, transfer_input(first["id"], two.beds_b[1],
                                            start + timedelta(hours=1)), two.nurse_ab)
    await api.data(DISCHARGE, discharge_input(first["id"], start + timedelta(hours=2)),
                   two.nurse_ab)
    assert await admitted_facilities(database, patient) == [uuid_of(two.b)]
    again = await admit(api, two.nurse_ab, patient, two.beds_b[0], start + timedelta(hours=3))
    await api.data(DISCHARGE, discharge_input(again["id"], start + timedelta(hours=4)),
                   two.nurse_ab)
    assert await admitted_facilities(database, patient) == [uuid_of(two.b)]
    await admit(api, two.nurse_ab, patient, two.beds_a[0], start + timedelta(hours=5))
    assert await admitted_facilities(database, patient) == [uuid_of(two.b), uuid_of(two.a)]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CLINICIAN, Role.NURSE],
                         ids=lambda r: r.value)
async def test_the_facility_is_recorded_whoever_admits(
    api: Api, database: DatabaseUnderTest, two: TwoFacilities, role: Role
) -> None:
    token = (two.kit.admin_token if role is Role.ADMIN
             else await two.kit.user(role, [two.a, two.b]))
    patient = await two.kit.patient(two.a)
    await admit(api, token, patient, two.beds_b[0])
    assert await admitted_facilities(database, patient) == [uuid_of(two.b)]


async def test_nurse_of_b_sees_a_patient_of_a_once_admitted_to_b_and_not_before(
    api: Api, two: TwoFacilities
) -> None:
    patient = await two.kit.patient(two.a)
    assert not await sees(api, two.nurse_b, patient)
    await admit(api, two.nurse_ab, patient, two.beds_b[0])
    assert await sees(api, two.nurse_b, patient)


async def test_a_patient_admitted_elsewhere_stays_hidden_from_a_nurse_of_b(
    api: Api, two: TwoFacilities
) -> None:
    patient = await two.kit.patient(two.a)
    await admit(api, two.nurse_ab, patient, two.beds_a[0])
    assert not await sees(api, two.nurse_b, patient)


@pytest.mark.parametrize(("scopes", "visible"), [
    pytest.param(["patients:read", "admissions:read"], True, id="with-admissions-read"),
    pytest.param(["patients:read"], False, id="patients-read-alone"),
])
async def test_partner_of_b_sees_a_patient_admitted_to_b_only_with_admissions_read(
    api: Api, two: TwoFacilities, scopes: list[str], visible: bool
) -> None:
    patient = await two.kit.patient(two.a)
    await admit(api, two.nurse_ab, patient, two.beds_b[0])
    partner = await two.kit.partner(scopes, [two.b])
    assert await sees(api, partner, patient) is visible


REQUEST_ROLES = (Role.ADMIN, Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.AUDITOR,
                 Role.PARTNER)


@pytest.mark.parametrize("role", REQUEST_ROLES, ids=lambda r: r.value)
async def test_no_request_role_may_update_admitted_facilities(
    database: DatabaseUnderTest, two: TwoFacilities, role: Role
) -> None:
    patient = uuid_of(await two.kit.patient(two.a))
    facilities = (uuid_of(two.a), uuid_of(two.b))
    async with as_role(database.api_url, role, two.kit.tenant_id, facilities,
                       scopes=("patients:read", "admissions:read")) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await connection.execute(
                "update app.patients set admitted_facility_ids = $2 where id = $1",
                patient, [uuid_of(two.b)])


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CLINICIAN, Role.NURSE],
                         ids=lambda r: r.value)
async def test_no_request_role_may_register_a_patient_with_admitted_facilities(
    database: DatabaseUnderTest, two: TwoFacilities, role: Role
) -> None:
    facilities = (uuid_of(two.a), uuid_of(two.b))
    async with as_role(database.api_url, role, two.kit.tenant_id, facilities) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
            await connection.execute(
                "insert into app.patients (tenant_id, facility_id, mrn, given_name, "
                "family_name, birth_date, admitted_facility_ids) "
                "values ($1, $2, 'X-1', 'Ada', 'Lovelace', date '1960-05-01', $3)",
                two.kit.tenant_id, facilities[0], [facilities[1]])


# -- the migration ------------------------------------------------------------------------------



# Every patient's admitted facilities as the admissions say, and as the column says.
FROM_ADMISSIONS = """
select p.id, coalesce((select array_agg(distinct a.facility_id order by a.facility_id)
                       from app.admissions a
                       where a.tenant_id = p.tenant_id and a.patient_id = p.id), '{}') as ids
from app.patients p order by p.id"""
FROM_COLUMN = """
select p.id, array(select f from unnest(p.admitted_facility_ids) f order by f) as ids
from app.patients p order by p.id"""


async def test_the_migration_fills_admitted_facilities_from_the_admissions(
    scratch_url: str,
) -> None:
    await asyncio.to_thread(runner.upgrade, scratch_url)
    connection = await asyncpg.connect(scratch_url)
    try:
        await seed(connection, Shape("admitted", tenants=2, facilities=2, wards=1, beds=4,
                                     patients=10, observations=1))
        seeded = await admin_fetch(scratch_url, FROM_ADMISSIONS)
        assert await admin_fetch(scratch_url, FROM_COLUMN) == seeded
        # One patient was also admitted, long ago, to the other facility of its tenant, by rows
        # written with triggers off, so that only the migration can know.
        async with connection.transaction():
            await connection.execute("set local session_replication_role = replica")
            await connection.execute("""
                insert into app.admissions (tenant_id, facility_id, patient_id, bed_id, number,
                                            admitted_at, discharged_at, status)
                select p.tenant_id, f.id, p.id, gen_random_uuid(), 'EXTRA-1',
                       timestamptz '2001-01-01', timestamptz '2001-01-02', 'DISCHARGED'
                from app.patients p
                join app.facilities f on f.tenant_id = p.tenant_id and f.id <> p.facility_id
                order by p.id, f.id limit 1""")
    finally:
        await connection.close()
    expected = await admin_fetch(scratch_url, FROM_ADMISSIONS)
    assert sum(len(r["ids"]) for r in expected) == 41

    await asyncio.to_thread(runner.downgrade, scratch_url, "0005_patient_name_keys")
    column = await admin_fetch(scratch_url, """
        select count(*) as n from information_schema.columns
        where table_schema = 'app' and table_name = 'patients'
          and column_name = 'admitted_facility_ids'""")
    assert column[0]["n"] == 0
    await asyncio.to_thread(runner.upgrade, scratch_url)
    assert await admin_fetch(scratch_url, FROM_COLUMN) == expected
