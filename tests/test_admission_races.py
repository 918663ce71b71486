"""Races through the HTTP API: many requests, each on its own connection to the live server and
its own database connection, released together. Whatever each request looked up first, the
database lets exactly one writer win. Each race runs many rounds."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from dataclasses import dataclass

import asyncpg
import pytest

from tests.admitting import (
    ADMIT,
    DISCHARGE,
    TRANSFER,
    admit,
    admit_input,
    beds,
    discharge_input,
    outcomes,
    patients,
    released_together,
    transfer_input,
)
from tests.audit_trail import AUDITED_OBJECTS
from tests.factories import TenantKit, admin_fetch, make_tenant
from tests.harness import Api, DatabaseUnderTest
from tests.sql_roles import as_role
from wardgraph import errors, ids
from wardgraph.auth.claims import Role
from wardgraph.db.errors import to_app_error

pytestmark = pytest.mark.slow

ROUNDS = 20
CONTENDERS = 50  # the live server's pool holds 60 connections
rounds = pytest.mark.parametrize("round_", range(1, ROUNDS + 1), ids=lambda n: f"round-{n}")


@dataclass
class Site:
    kit: TenantKit
    facility: str
    nurse: str

    async def ward(self, count: int) -> list[str]:
        """The beds of a new ward."""
        ward = await self.kit.ward(self.facility, name=f"Ward {uuid.uuid4().hex[:8]}")
        return await beds(self.kit, ward, count)


@pytest.fixture
async def site(api: Api, database: DatabaseUnderTest) -> Site:
    """A fresh tenant per round: its admin and nurse stay well inside the per-user rate limit."""
    kit = await make_tenant(api, database.admin_url)
    facility = await kit.facility("RCE", "Asia/Dhaka")
    return Site(kit, facility, await kit.user(Role.NURSE, [facility]))


def uuid_of(global_id: str) -> uuid.UUID:
    parsed = ids.parse(global_id)
    assert parsed is not None
    return parsed[1]


async def active_in_bed(database: DatabaseUnderTest, bed: str) -> list[str]:
    rows = await admin_fetch(database.admin_url, """
        select patient_id from app.admissions where bed_id = $1 and status = 'ACTIVE'""",
        uuid_of(bed))
    return [ids.encode("Patient", r["patient_id"]) for r in rows]


async def open_stays(database: DatabaseUnderTest, column: str, value: str) -> list[str]:
    """Beds of the open stays with `column` (bed_id or patient_id) equal to the value."""
    assert column in ("bed_id", "patient_id")
    rows = await admin_fetch(database.admin_url, f"""
        select bed_id from app.bed_stays where {column} = $1 and ended_at is null""",
        uuid_of(value))
    return [ids.encode("Bed", r["bed_id"]) for r in rows]


@rounds
async def test_fifty_admissions_of_different_patients_to_one_bed_admit_exactly_one(
    api: Api, database: DatabaseUnderTest, site: Site, round_: int
) -> None:
    (bed,) = await site.ward(1)
    contenders = await patients(site.kit, site.facility, CONTENDERS)
    responses = await released_together(
        api, [(ADMIT, admit_input(patient, bed), site.nurse) for patient in contenders])
    assert outcomes(responses) == Counter({"OK": 1, "BED_OCCUPIED": CONTENDERS - 1})
    winner = next(r.json()["data"]["admitPatient"] for r in responses
                  if "errors" not in r.json())
    assert await active_in_bed(database, bed) == [winner["patient"]["id"]]
    assert await open_stays(database, "bed_id", bed) == [bed]


@rounds
async def test_fifty_admissions_of_one_patient_to_different_beds_admit_exactly_one(
    api: Api, database: DatabaseUnderTest, site: Site, round_: int
) -> None:
    ward_beds = await site.ward(CONTENDERS)
    patient = await site.kit.patient(site.facility)
    responses = await released_together(
        api, [(ADMIT, admit_input(patient, bed), site.nurse) for bed in ward_beds])
    assert outcomes(responses) == Counter({"OK": 1, "PATIENT_ALREADY_ADMITTED": CONTENDERS - 1})
    rows = await admin_fetch(database.admin_url, """
        select count(*) from app.admissions where patient_id = $1""", uuid_of(patient))
    assert rows[0]["count"] == 1
    assert len(await open_stays(database, "patient_id", patient)) == 1


@rounds
async def test_two_transfers_into_one_free_bed_move_one_patient_and_leave_the_other(
    api: Api, database: DatabaseUnderTest, site: Site, round_: int
) -> None:
    first_bed, second_bed, free_bed = await site.ward(3)
    first = await admit(api, site.nurse, await site.kit.patient(site.facility), first_bed)
    second = await admit(api, site.nurse, await site.kit.patient(site.facility), second_bed)
    responses = await released_together(api, [
        (TRANSFER, transfer_input(first["id"], free_bed), site.nurse),
        (TRANSFER, transfer_input(second["id"], free_bed), site.nurse)])
    assert outcomes(responses) == Counter({"OK": 1, "BED_OCCUPIED": 1})
    moved, stayed = (first, second) if "errors" not in responses[0].json() else (second, first)
    assert await active_in_bed(database, free_bed) == [moved["patient"]["id"]]
    assert await active_in_bed(database, stayed["bed"]["id"]) == [stayed["patient"]["id"]]
    assert await open_stays(database, "patient_id", stayed["patient"]["id"]) == [
        stayed["bed"]["id"]]
    assert await open_stays(database, "patient_id", moved["patient"]["id"]) == [free_bed]


@pytest.mark.parametrize("round_", range(1, 6), ids=lambda n: f"round-{n}")
async def test_concurrent_discharges_of_one_admission_all_answer_the_one_discharge(
    api: Api, database: DatabaseUnderTest, site: Site, round_: int
) -> None:
    (bed,) = await site.ward(1)
    admission = await admit(api, site.nurse, await site.kit.patient(site.facility), bed)
    responses = await released_together(
        api, [(DISCHARGE, discharge_input(admission["id"]), site.nurse) for _ in range(10)])
    assert outcomes(responses) == Counter({"OK": 10})
    assert len({r.content for r in responses}) == 1
    rows = await admin_fetch(database.admin_url, f"""
        select count(*) from {AUDITED_OBJECTS}
        where object_id = $1 and operation = 'UPDATE'""", uuid_of(admission["id"]))
    assert rows[0]["count"] == 1


async def test_two_bed_moves_that_deadlock_are_answered_try_again_not_internal(
    api: Api, database: DatabaseUnderTest, site: Site
) -> None:
    # Two patients swapping beds at the same instant can wait on each other inside Postgres;
    # here the two waits are forced, in SQL as two nurses, so the deadlock always happens.
    first_bed, second_bed = await site.ward(2)
    first = uuid_of((await admit(api, site.nurse, await site.kit.patient(site.facility),
                                 first_bed))["id"])
    second = uuid_of((await admit(api, site.nurse, await site.kit.patient(site.facility),
                                  second_bed))["id"])
    touch = "update app.admissions set bed_id = bed_id where id = $1"
    claims = (site.kit.tenant_id, (uuid_of(site.facility),))
    async with as_role(database.api_url, Role.NURSE, *claims) as one, \
            as_role(database.api_url, Role.NURSE, *claims) as two:
        await one.execute(touch, first)
        await two.execute(touch, second)
        outcome = await asyncio.gather(one.execute(touch, second), two.execute(touch, first),
                                       return_exceptions=True)
    deadlocks = [o for o in outcome if isinstance(o, asyncpg.DeadlockDetectedError)]
    assert len(deadlocks) == 1
    mapped = to_app_error(deadlocks[0])
    assert mapped is not None and mapped.code == errors.SERVICE_UNAVAILABLE
