"""Admitting, transferring and discharging: one bed, one patient, and the database says no."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from freezegun import freeze_time

from tests.admitting import (
    ADMIT,
    DISCHARGE,
    TRANSFER,
    admit,
    admit_input,
    beds,
    discharge_input,
    transfer_input,
)
from tests.audit_trail import AUDITED_OBJECTS
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.sql_roles import as_role
from wardgraph import errors, ids
from wardgraph.auth.claims import Role
from wardgraph.db.errors import to_app_error
from wardgraph.input_rules import FUTURE_SKEW as CLOCK_SKEW_ALLOWANCE

NOW = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)  # 10:00 in Dhaka
HOUR = timedelta(hours=1)
MICROSECOND = timedelta(microseconds=1)


@dataclass
class Ward:
    kit: TenantKit
    facility: str
    ward: str
    beds: list[str]
    nurse: str

    async def patient(self) -> str:
        return await self.kit.patient(self.facility)


@pytest.fixture
async def ward(tenant: TenantKit) -> Ward:
    """Four beds of a ward of DHK, and a nurse who works there."""
    facility = tenant.facilities["DHK"]
    ward_id = await tenant.ward(facility)
    return Ward(tenant, facility, ward_id, await beds(tenant, ward_id, 4),
                await tenant.user(Role.NURSE, [facility]))


def uuid_of(global_id: str) -> uuid.UUID:
    parsed = ids.parse(global_id)
    assert parsed is not None
    return parsed[1]


async def error_of(api: Api, query: str, variables: dict[str, Any],
                   token: str) -> dict[str, Any]:
    body = await api.gql(query, variables, token)
    assert body.get("data") is None, body  # refused before execution: no data at all
    error: dict[str, Any] = body["errors"][0]
    return error


async def stays_of(database: DatabaseUnderTest, admission: str) -> list[tuple[str, Any, Any]]:
    """(bed global id, started, ended) of an admission's stays, as the database holds them."""
    rows = await admin_fetch(database.admin_url, """
        select bed_id, started_at, ended_at from app.bed_stays
        where admission_id = $1 order by started_at""", uuid_of(admission))
    return [(ids.encode("Bed", r["bed_id"]), r["started_at"], r["ended_at"]) for r in rows]


# -- admitting ---------------------------------------------------------------------------------

async def test_nurse_admits_a_patient_to_a_free_bed_at_the_request_clock(
    api: Api, ward: Ward
) -> None:
    patient = await ward.patient()
    with freeze_time(NOW, real_asyncio=True):
        admission = await admit(api, ward.nurse, patient, ward.beds[0])
    assert admission["status"] == "ACTIVE"
    assert admission["admittedAt"] == "2025-03-01T04:00:00+00:00"
    assert admission["dischargedAt"] is None
    assert admission["bed"]["id"] == ward.beds[0]
    assert admission["patient"]["id"] == patient
    assert admission["number"] == "DHK-2025-000001"


async def test_admission_numbers_run_per_facility_and_local_year(
    api: Api, ward: Ward
) -> None:
    # 17:59:59 UTC on 31 December is 23:59:59 in Dhaka; one second later it is the new year.
    last_of_2024 = datetime(2024, 12, 31, 17, 59, 59, tzinfo=UTC)
    numbers = [
        (await admit(api, ward.nurse, await ward.patient(), bed, at))["number"]
        for bed, at in [(ward.beds[0], last_of_2024),
                        (ward.beds[1], last_of_2024 + timedelta(seconds=1)),
                        (ward.beds[2], last_of_2024 + HOUR)]
    ]
    assert numbers == ["DHK-2024-000001", "DHK-2025-000001", "DHK-2025-000002"]
    assert all(re.fullmatch(r"[A-Z0-9]{2,12}-\d{4}-\d{6}", n) for n in numbers)
    other = await ward.kit.facility("CTG", "Asia/Dhaka")
    other_bed = await ward.kit.bed(await ward.kit.ward(other), "C-1")
    admission = await admit(api, ward.kit.admin_token, await ward.kit.patient(other), other_bed,
                            last_of_2024 + HOUR)
    assert admission["number"] == "CTG-2025-000001"


async def test_a_refused_admission_gives_its_number_back(api: Api, ward: Ward) -> None:
    first = await admit(api, ward.nurse, await ward.patient(), ward.beds[0])
    refused = await error_of(api, ADMIT, admit_input(await ward.patient(), ward.beds[0]),
                             ward.nurse)
    assert refused["extensions"]["code"] == "BED_OCCUPIED"
    second = await admit(api, ward.nurse, await ward.patient(), ward.beds[1])
    assert int(second["number"][-6:]) == int(first["number"][-6:]) + 1


async def test_bed_occupied_when_a_second_patient_is_admitted_to_the_bed(
    api: Api, ward: Ward
) -> None:
    await admit(api, ward.nurse, await ward.patient(), ward.beds[0])
    error = await error_of(api, ADMIT, admit_input(await ward.patient(), ward.beds[0]),
                           ward.nurse)
    assert error["extensions"] == {"code": "BED_OCCUPIED", "field": "bedId"}
    assert error["message"] == "The bed is occupied"


async def test_patient_already_admitted_when_admitted_to_a_second_bed(
    api: Api, ward: Ward
) -> None:
    patient = await ward.patient()
    await admit(api, ward.nurse, patient, ward.beds[0])
    error = await error_of(api, ADMIT, admit_input(patient, ward.beds[1]), ward.nurse)
    assert error["extensions"] == {"code": "PATIENT_ALREADY_ADMITTED", "field": "patientId"}


@pytest.mark.parametrize(("second", "constraint", "code"), [
    pytest.param("bed", "admissions_one_active_per_bed", "BED_OCCUPIED", id="same-bed"),
    pytest.param("patient", "admissions_one_active_per_patient", "PATIENT_ALREADY_ADMITTED",
                 id="same-patient"),
])
async def test_the_constraint_alone_refuses_a_second_active_admission(
    api: Api, database: DatabaseUnderTest, ward: Ward, second: str, constraint: str, code: str,
) -> None:
    # No look-up at all: SQL as wg_nurse, straight into the table.
    patient = await ward.patient()
    await admit(api, ward.nurse, patient, ward.beds[0])
    other_patient = uuid_of(await ward.patient()) if second == "bed" else uuid_of(patient)
    bed = uuid_of(ward.beds[0] if second == "bed" else ward.beds[1])
    facility = uuid_of(ward.facility)
    async with as_role(database.api_url, Role.NURSE, ward.kit.tenant_id,
                       (facility,)) as connection:
        with pytest.raises(asyncpg.UniqueViolationError) as refused:
            await connection.execute(
                "insert into app.admissions (tenant_id, facility_id, patient_id, bed_id, "
                "admitted_at) values ($1, $2, $3, $4, now())",
                ward.kit.tenant_id, facility, other_patient, bed)
    assert refused.value.constraint_name == constraint
    mapped = to_app_error(refused.value)
    assert mapped is not None and mapped.code == code


async def test_the_constraint_alone_refuses_an_overlapping_stay_in_a_bed(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    start = datetime.now(UTC) - 5 * HOUR
    first = await admit(api, ward.nurse, await ward.patient(), ward.beds[0], start)
    await api.data(DISCHARGE, discharge_input(first["id"], start + 2 * HOUR), ward.nurse)
    second = await admit(api, ward.nurse, await ward.patient(), ward.beds[1], start)
    facility = uuid_of(ward.facility)
    async with as_role(database.api_url, Role.NURSE, ward.kit.tenant_id,
                       (facility,)) as connection:
        with pytest.raises(asyncpg.ExclusionViolationError) as refused:
            await connection.execute(
                "insert into app.bed_stays (tenant_id, admission_id, facility_id, patient_id, "
                "ward_id, bed_id, started_at) values ($1, $2, $3, $4, $5, $6, $7)",
                ward.kit.tenant_id, uuid_of(second["id"]), facility,
                uuid_of(second["patient"]["id"]), uuid_of(ward.ward), uuid_of(ward.beds[0]),
                start + HOUR)
    assert refused.value.constraint_name == "bed_stays_no_overlap"
    mapped = to_app_error(refused.value)
    assert mapped is not None and mapped.code == errors.STAY_OVERLAPS


async def test_two_admissions_in_one_document_both_hold(api: Api, ward: Ward) -> None:
    first, second = await ward.patient(), await ward.patient()
    data = await api.data("""
        mutation($a: AdmitPatientInput!, $b: AdmitPatientInput!) {
          a: admitPatient(input: $a) { number }
          b: admitPatient(input: $b) { number }
        }""", {"a": admit_input(first, ward.beds[0])["input"],
               "b": admit_input(second, ward.beds[1])["input"]}, ward.nurse)
    assert data["a"]["number"] != data["b"]["number"]


async def test_an_admission_without_a_bed_stay_cannot_commit(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    patient = uuid_of(await ward.patient())
    facility = uuid_of(ward.facility)
    async with as_role(database.api_url, Role.NURSE, ward.kit.tenant_id,
                       (facility,)) as connection:
        await connection.execute(
            "insert into app.admissions (tenant_id, facility_id, patient_id, bed_id, "
            "admitted_at) values ($1, $2, $3, $4, now())",
            ward.kit.tenant_id, facility, patient, uuid_of(ward.beds[0]))
        with pytest.raises(asyncpg.CheckViolationError) as refused:
            await connection.execute("set constraints all immediate")
    assert refused.value.constraint_name == "bed_stays_cover_admission"


async def test_a_discharged_admission_cannot_be_reopened_even_by_sql(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0])
    await api.data(DISCHARGE, discharge_input(admission["id"]), ward.nurse)
    async with as_role(database.api_url, Role.NURSE, ward.kit.tenant_id,
                       (uuid_of(ward.facility),)) as connection:
        result = await connection.execute(
            "update app.admissions set status = 'ACTIVE', discharged_at = null "
            "where id = $1", uuid_of(admission["id"]))
    assert result == "UPDATE 0"


# -- overlapping stays -------------------------------------------------------------------------

@pytest.mark.parametrize(("offset", "code"), [
    pytest.param(-HOUR, "STAY_OVERLAPS", id="an-hour-inside"),
    pytest.param(-MICROSECOND, "STAY_OVERLAPS", id="a-microsecond-inside"),
    pytest.param(timedelta(0), None, id="exactly-when-the-last-ended"),
])
async def test_back_dated_admission_must_not_overlap_a_past_stay_in_the_bed(
    api: Api, ward: Ward, offset: timedelta, code: str | None
) -> None:
    ended = datetime.now(UTC) - 3 * HOUR
    first = await admit(api, ward.nurse, await ward.patient(), ward.beds[0], ended - 2 * HOUR)
    await api.data(DISCHARGE, discharge_input(first["id"], ended), ward.nurse)
    body = await api.gql(ADMIT, admit_input(await ward.patient(), ward.beds[0], ended + offset),
                         ward.nurse)
    if code is None:
        assert "errors" not in body
    else:
        assert body["errors"][0]["extensions"] == {"code": code}
        assert body["errors"][0]["message"] == "The bed has another stay at that time"


@pytest.mark.parametrize(("offset", "code"), [
    pytest.param(-HOUR, "STAY_OVERLAPS", id="an-hour-inside"),
    pytest.param(timedelta(0), None, id="exactly-when-the-last-ended"),
])
async def test_back_dated_admission_must_not_overlap_the_patients_past_stay(
    api: Api, ward: Ward, offset: timedelta, code: str | None
) -> None:
    ended = datetime.now(UTC) - 3 * HOUR
    patient = await ward.patient()
    first = await admit(api, ward.nurse, patient, ward.beds[0], ended - 2 * HOUR)
    await api.data(DISCHARGE, discharge_input(first["id"], ended), ward.nurse)
    body = await api.gql(ADMIT, admit_input(patient, ward.beds[1], ended + offset), ward.nurse)
    if code is None:
        assert "errors" not in body
    else:
        assert body["errors"][0]["extensions"] == {"code": code}
        assert body["errors"][0]["message"] == "The patient has another stay at that time"


async def test_back_dated_transfer_into_a_bed_with_an_overlapping_past_stay_is_refused(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    now = datetime.now(UTC)
    earlier = await admit(api, ward.nurse, await ward.patient(), ward.beds[1], now - 5 * HOUR)
    await api.data(DISCHARGE, discharge_input(earlier["id"], now - 3 * HOUR), ward.nurse)
    moving = await admit(api, ward.nurse, await ward.patient(), ward.beds[0], now - 6 * HOUR)
    before = await stays_of(database, moving["id"])
    error = await error_of(api, TRANSFER, transfer_input(moving["id"], ward.beds[1],
                                                         now - 4 * HOUR), ward.nurse)
    assert error["extensions"] == {"code": "STAY_OVERLAPS"}
    assert await stays_of(database, moving["id"]) == before
    # At the instant the earlier stay ended, the bed is free to take.
    moved = await api.data(TRANSFER, transfer_input(moving["id"], ward.beds[1], now - 3 * HOUR),
                           ward.nurse)
    assert moved["transferPatient"]["bed"]["id"] == ward.beds[1]


# -- transferring ------------------------------------------------------------------------------

async def test_transfer_closes_one_stay_and_opens_the_next_at_the_same_instant(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    admitted_at = datetime.now(UTC) - 2 * HOUR
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0], admitted_at)
    moved_at = admitted_at + HOUR
    data = await api.data(TRANSFER, transfer_input(admission["id"], ward.beds[1], moved_at),
                          ward.nurse)
    moved = data["transferPatient"]
    assert (moved["id"], moved["number"], moved["status"]) == (
        admission["id"], admission["number"], "ACTIVE")
    assert moved["bed"]["id"] == ward.beds[1]
    assert await stays_of(database, admission["id"]) == [
        (ward.beds[0], admitted_at, moved_at), (ward.beds[1], moved_at, None)]


async def test_transfer_to_the_bed_the_patient_is_in_is_refused(api: Api, ward: Ward) -> None:
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0])
    error = await error_of(api, TRANSFER, transfer_input(admission["id"], ward.beds[0]),
                           ward.nurse)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "toBedId"}


async def test_transfer_into_an_occupied_bed_leaves_the_patient_where_they_were(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    moving = await admit(api, ward.nurse, await ward.patient(), ward.beds[0])
    await admit(api, ward.nurse, await ward.patient(), ward.beds[1])
    before = await stays_of(database, moving["id"])
    error = await error_of(api, TRANSFER, transfer_input(moving["id"], ward.beds[1]),
                           ward.nurse)
    assert error["extensions"] == {"code": "BED_OCCUPIED", "field": "toBedId"}
    assert await stays_of(database, moving["id"]) == before
    rows = await admin_fetch(database.admin_url,
                             "select bed_id from app.admissions where id = $1",
                             uuid_of(moving["id"]))
    assert [ids.encode("Bed", r["bed_id"]) for r in rows] == [ward.beds[0]]


async def test_transfer_of_a_discharged_patient_is_refused(api: Api, ward: Ward) -> None:
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0])
    await api.data(DISCHARGE, discharge_input(admission["id"]), ward.nurse)
    error = await error_of(api, TRANSFER, transfer_input(admission["id"], ward.beds[1]),
                           ward.nurse)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "admissionId"}


@pytest.mark.parametrize("offset", [
    pytest.param(timedelta(0), id="at-the-admission"),
    pytest.param(-HOUR, id="before-the-admission"),
])
async def test_transfer_not_after_the_current_stay_began_is_refused(
    api: Api, ward: Ward, offset: timedelta
) -> None:
    admitted_at = datetime.now(UTC) - 2 * HOUR
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0], admitted_at)
    error = await error_of(api, TRANSFER, transfer_input(admission["id"], ward.beds[1],
                                                         admitted_at + offset), ward.nurse)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "at"}


async def test_transfer_to_another_facilitys_bed_is_refused(api: Api, ward: Ward) -> None:
    other = await ward.kit.facility("CTG", "Asia/Dhaka")
    other_bed = await ward.kit.bed(await ward.kit.ward(other), "C-1")
    admission = await admit(api, ward.kit.admin_token, await ward.patient(), ward.beds[0])
    error = await error_of(api, TRANSFER, transfer_input(admission["id"], other_bed),
                           ward.kit.admin_token)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "toBedId"}


# -- discharging -------------------------------------------------------------------------------

async def test_discharging_twice_answers_the_first_discharge_and_records_one(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    admitted_at = datetime.now(UTC) - 3 * HOUR
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0], admitted_at)
    first = await api.post(DISCHARGE, discharge_input(admission["id"], admitted_at + HOUR),
                           ward.nurse)
    again = await api.post(DISCHARGE, discharge_input(admission["id"]), ward.nurse)
    assert first.status_code == again.status_code == 200
    assert "errors" not in first.json()
    assert first.content == again.content
    discharged = first.json()["data"]["dischargePatient"]
    assert discharged["status"] == "DISCHARGED"
    assert discharged["dischargedAt"] == (admitted_at + HOUR).isoformat()
    writes = await admin_fetch(database.admin_url, f"""
        select operation from {AUDITED_OBJECTS}
        where object_id = $1 and operation <> 'READ' order by seq, position""",
                               uuid_of(admission["id"]))
    assert [r["operation"] for r in writes] == ["CREATE", "UPDATE"]


async def test_discharge_ends_the_stay_and_frees_the_bed_from_that_instant(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    admitted_at = datetime.now(UTC) - 3 * HOUR
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0], admitted_at)
    discharged_at = admitted_at + HOUR
    await api.data(DISCHARGE, discharge_input(admission["id"], discharged_at), ward.nurse)
    assert await stays_of(database, admission["id"]) == [
        (ward.beds[0], admitted_at, discharged_at)]
    following = await admit(api, ward.nurse, await ward.patient(), ward.beds[0], discharged_at)
    assert following["status"] == "ACTIVE"


@pytest.mark.parametrize("offset", [
    pytest.param(timedelta(0), id="at-the-admission"),
    pytest.param(-HOUR, id="before-the-admission"),
])
async def test_discharge_not_after_the_current_stay_began_is_refused(
    api: Api, ward: Ward, offset: timedelta
) -> None:
    admitted_at = datetime.now(UTC) - 2 * HOUR
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0], admitted_at)
    error = await error_of(api, DISCHARGE, discharge_input(admission["id"], admitted_at + offset),
                           ward.nurse)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "dischargedAt"}


# -- time --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ahead", "refused"), [
    pytest.param(CLOCK_SKEW_ALLOWANCE, False, id="at-the-allowance"),
    pytest.param(CLOCK_SKEW_ALLOWANCE + MICROSECOND, True, id="just-beyond"),
    pytest.param(timedelta(days=1), True, id="tomorrow"),
])
@pytest.mark.parametrize("operation", ["admit", "transfer", "discharge"])
async def test_time_ahead_of_the_clock_beyond_the_skew_allowance_is_refused(
    api: Api, ward: Ward, operation: str, ahead: timedelta, refused: bool
) -> None:
    patient = await ward.patient()
    with freeze_time(NOW, real_asyncio=True):
        if operation == "admit":
            query, variables, field = ADMIT, admit_input(patient, ward.beds[0], NOW + ahead), (
                "admittedAt")
        else:
            admission = await admit(api, ward.nurse, patient, ward.beds[0], NOW - HOUR)
            query, variables, field = (
                (TRANSFER, transfer_input(admission["id"], ward.beds[1], NOW + ahead), "at")
                if operation == "transfer" else
                (DISCHARGE, discharge_input(admission["id"], NOW + ahead), "dischargedAt"))
        body = await api.gql(query, variables, ward.nurse)
    if refused:
        assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": field}
    else:
        assert "errors" not in body


async def test_time_without_a_utc_offset_is_refused(api: Api, ward: Ward) -> None:
    variables = {"input": {"patientId": await ward.patient(), "bedId": ward.beds[0],
                           "admittedAt": "2025-01-01T10:00:00"}}
    error = await error_of(api, ADMIT, variables, ward.nurse)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "admittedAt"}


# -- who may --------------------------------------------------------------------------------------

async def token_as(kit: TenantKit, role: Role) -> str:
    if role is Role.ADMIN:
        return kit.admin_token
    if role is Role.PARTNER:
        return await kit.partner(["patients:read", "admissions:read", "observations:write"])
    return await kit.user(role)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CLINICIAN, Role.NURSE], ids=lambda r: r.value)
async def test_admin_clinician_and_nurse_admit_transfer_and_discharge(
    api: Api, ward: Ward, role: Role
) -> None:
    token = await token_as(ward.kit, role)
    admission = await admit(api, token, await ward.patient(), ward.beds[0])
    await api.data(TRANSFER, transfer_input(admission["id"], ward.beds[1]), token)
    data = await api.data(DISCHARGE, discharge_input(admission["id"]), token)
    assert data["dischargePatient"]["status"] == "DISCHARGED"


@pytest.mark.parametrize("operation", ["admit", "transfer", "discharge"])
@pytest.mark.parametrize("role", [Role.BILLING, Role.AUDITOR, Role.PARTNER],
                         ids=lambda r: r.value)
async def test_billing_auditor_and_partner_may_not_admit_transfer_or_discharge(
    api: Api, ward: Ward, role: Role, operation: str
) -> None:
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0])
    query, variables = {
        "admit": (ADMIT, admit_input(await ward.patient(), ward.beds[1])),
        "transfer": (TRANSFER, transfer_input(admission["id"], ward.beds[1])),
        "discharge": (DISCHARGE, discharge_input(admission["id"])),
    }[operation]
    error = await error_of(api, query, variables, await token_as(ward.kit, role))
    assert error["extensions"] == {"code": "FORBIDDEN"}


# -- ids that name nothing you can see -----------------------------------------------------------

@dataclass
class Elsewhere:
    """A patient, a bed and an admission somewhere the nurse of `ward` cannot see."""

    patient: str
    bed: str
    admission: str


async def elsewhere(api: Api, kit: TenantKit, facility: str) -> Elsewhere:
    bed, free_bed = await beds(kit, await kit.ward(facility, name="Elsewhere"), 2)
    patient = await kit.patient(facility)
    admission = await admit(api, kit.admin_token, await kit.patient(facility), bed)
    return Elsewhere(patient, free_bed, admission["id"])


@pytest.mark.parametrize("origin", ["other-tenant", "other-facility"])
@pytest.mark.parametrize("operation", [
    "admit-patient", "admit-bed", "transfer-admission", "transfer-bed", "discharge-admission"])
async def test_foreign_ids_answer_exactly_like_a_random_id(
    api: Api, ward: Ward, other_tenant: TenantKit, origin: str, operation: str
) -> None:
    if origin == "other-tenant":
        theirs = await elsewhere(api, other_tenant, other_tenant.facilities["DHK"])
    else:
        theirs = await elsewhere(api, ward.kit, await ward.kit.facility("CTG", "Asia/Dhaka"))
    mine = await admit(api, ward.nurse, await ward.patient(), ward.beds[0])
    free_patient = await ward.patient()

    def attempt(kind: str, foreign: str) -> tuple[str, dict[str, Any]]:
        return {
            "admit-patient": (ADMIT, admit_input(foreign, ward.beds[1])),
            "admit-bed": (ADMIT, admit_input(free_patient, foreign)),
            "transfer-admission": (TRANSFER, transfer_input(foreign, ward.beds[1])),
            "transfer-bed": (TRANSFER, transfer_input(mine["id"], foreign)),
            "discharge-admission": (DISCHARGE, discharge_input(foreign)),
        }[kind]

    type_name, foreign = {
        "admit-patient": ("Patient", theirs.patient), "admit-bed": ("Bed", theirs.bed),
        "transfer-admission": ("Admission", theirs.admission),
        "transfer-bed": ("Bed", theirs.bed), "discharge-admission": ("Admission", theirs.admission),
    }[operation]
    answers = [await api.post(*attempt(operation, given), ward.nurse) for given in
               (foreign, ids.encode(type_name, uuid.uuid4()), "not-an-id")]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[0].content == answers[1].content == answers[2].content
    assert answers[0].json()["errors"][0]["extensions"] == {"code": "NOT_FOUND"}


async def test_nurse_cannot_admit_another_facilitys_patient_even_by_sql(
    database: DatabaseUnderTest, ward: Ward
) -> None:
    # The foreign key alone would accept the id (it is checked without RLS); the policy does not.
    their_patient = uuid_of(await ward.kit.patient(await ward.kit.facility("CTG", "Asia/Dhaka")))
    facility = uuid_of(ward.facility)
    async with as_role(database.api_url, Role.NURSE, ward.kit.tenant_id,
                       (facility,)) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute(
                "insert into app.admissions (tenant_id, facility_id, patient_id, bed_id, "
                "admitted_at) values ($1, $2, $3, $4, now())",
                ward.kit.tenant_id, facility, their_patient, uuid_of(ward.beds[0]))


async def test_admitted_by_names_the_caller_and_cannot_be_forged_by_sql(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    admission = await admit(api, ward.nurse, await ward.patient(), ward.beds[0])
    rows = await admin_fetch(database.admin_url,
                             "select admitted_by from app.admissions where id = $1",
                             uuid_of(admission["id"]))
    assert rows[0]["admitted_by"] is not None
    facility = uuid_of(ward.facility)
    async with as_role(database.api_url, Role.NURSE, ward.kit.tenant_id, (facility,),
                       user_id=uuid.uuid4()) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute(
                "insert into app.admissions (tenant_id, facility_id, patient_id, bed_id, "
                "admitted_at, admitted_by) values ($1, $2, $3, $4, now(), $5)",
                ward.kit.tenant_id, facility, uuid_of(await ward.patient()),
                uuid_of(ward.beds[1]), rows[0]["admitted_by"])


@pytest.mark.parametrize("column", ["number", "status", "discharged_at"])
async def test_an_admission_starts_active_and_numbered_by_the_database_even_by_sql(
    database: DatabaseUnderTest, ward: Ward, column: str
) -> None:
    values = {"number": "'DHK-1999-000001'", "status": "'DISCHARGED'", "discharged_at": "now()"}
    facility = uuid_of(ward.facility)
    async with as_role(database.api_url, Role.NURSE, ward.kit.tenant_id,
                       (facility,)) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(
                "insert into app.admissions (tenant_id, facility_id, patient_id, bed_id, "
                f"admitted_at, {column}) values ($1, $2, $3, $4, now() - interval '1 day', "
                f"{values[column]})",
                ward.kit.tenant_id, facility, uuid_of(await ward.patient()),
                uuid_of(ward.beds[0]))


@pytest.mark.parametrize("table", ["app.admissions", "app.bed_stays", "app.admission_counters"])
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
async def test_sql_as_each_role_sees_no_other_tenants_admission_rows(
    api: Api, database: DatabaseUnderTest, ward: Ward, other_tenant: TenantKit, role: Role,
    table: str,
) -> None:
    theirs = await elsewhere(api, other_tenant, other_tenant.facilities["DHK"])
    assert theirs.admission
    async with as_role(database.api_url, role, ward.kit.tenant_id, (uuid_of(ward.facility),),
                       scopes=("admissions:read",)) as connection:
        try:
            rows = await connection.fetch(
                f"select tenant_id from {table} where tenant_id = $1", other_tenant.tenant_id)
        except asyncpg.InsufficientPrivilegeError:
            rows = []  # not granted at all: even stronger
    assert rows == []
