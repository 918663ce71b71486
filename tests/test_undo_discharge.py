"""undoDischarge: an administrator re-opens a discharged admission in one statement under RLS;
the bed and the patient's indexes decide a conflict, and the bed-day ledger ends as if the
patient had never left (charged up to the facility's watermark, nothing charged twice)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from tests.admitting import DISCHARGE, admit, discharge_input
from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.local_days import (
    DAY,
    DHAKA,
    Site,
    accrue,
    census_instant,
    charges,
    dhaka_site,
    discharge,
    ledger,
    local,
    midnights_spanned,
    transfer,
    uuid_of,
)
from tests.serving import code_of, errors_of
from tests.sql_roles import as_role
from tests.test_billing_verify import billing_verify
from wardgraph import ids
from wardgraph.auth.claims import Role

UNDO = """
mutation($input: UndoDischargeInput!) {
  undoDischarge(input: $input) { id status dischargedAt bed { id } }
}"""

ADMITTED = date(2026, 3, 10)
TRANSFERRED = date(2026, 3, 12)
DISCHARGED = date(2026, 3, 15)
FIRST_ACCRUAL = date(2026, 3, 20)
LAST_ACCRUAL = date(2026, 3, 25)


@pytest.fixture
async def dhaka(tenant: TenantKit) -> Site:
    return await dhaka_site(tenant)


async def undo(api: Api, token: str, admission: str) -> Any:
    return await api.post(UNDO, {"input": {"admissionId": admission}}, token)


async def ledger_rows(database: DatabaseUnderTest, admission: str) -> int:
    [row] = await admin_fetch(database.admin_url, "select count(*) as n from app.bed_days "
                              "where admission_id = $1", uuid_of(admission))
    return int(row["n"])


async def stays_of(database: DatabaseUnderTest, admission: str) -> list[tuple[Any, ...]]:
    rows = await admin_fetch(database.admin_url, """
        select bed_id, started_at, ended_at from app.bed_stays where admission_id = $1
        order by started_at""", uuid_of(admission))
    return [tuple(r) for r in rows]


def expected_nights(site: Site) -> list[tuple[date, Decimal]]:
    """Independently of the ledger: the nights of a stay in ward 1 from ADMITTED 12:00 and in
    ward 2 from TRANSFERRED 12:00 on, up to the census ending LAST_ACCRUAL, at each ward's
    rate."""
    moved = local(TRANSFERRED, 12, 0, DHAKA)
    up_to = census_instant(LAST_ACCRUAL, DHAKA)
    return ([(d, site.rates[0]) for d in midnights_spanned(
                local(ADMITTED, 12, 0, DHAKA), moved, DHAKA, up_to)]
            + [(d, site.rates[1]) for d in midnights_spanned(moved, None, DHAKA, up_to)])


async def moved_admission(api: Api, site: Site, bed: int) -> dict[str, Any]:
    """Admitted to ward 1 at ADMITTED 12:00, moved to ward 2 at TRANSFERRED 12:00."""
    admission = await admit(api, site.nurse, await site.patient(), site.beds[0][bed],
                            local(ADMITTED, 12, 0, DHAKA))
    await transfer(api, site.nurse, admission["id"], site.beds[1][bed],
                   local(TRANSFERRED, 12, 0, DHAKA))
    return admission


async def discharged_now(api: Api, token: str, admission: str) -> None:
    await api.data(DISCHARGE, discharge_input(admission), token)


async def test_undo_then_accrue_nets_the_same_ledger_as_never_discharging(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    undone = await moved_admission(api, dhaka, 0)
    stayed = await moved_admission(api, dhaka, 1)
    await accrue(api, dhaka.billing, dhaka.facility, FIRST_ACCRUAL)
    await discharge(api, dhaka.nurse, undone["id"], local(DISCHARGED, 12, 0, DHAKA))
    stays_before = await stays_of(database, undone["id"])

    answer = await undo(api, dhaka.kit.admin_token, undone["id"])
    # At once, before any accrual: in hospital again, charged up to the watermark like the
    # admission that never left.
    at_undo = [await charges(database.admin_url, a["id"]) for a in (undone, stayed)]
    await accrue(api, dhaka.billing, dhaka.facility, LAST_ACCRUAL)

    assert "errors" not in answer.json(), answer.text
    reopened = answer.json()["data"]["undoDischarge"]
    assert (reopened["status"], reopened["dischargedAt"]) == ("ACTIVE", None)
    assert reopened["bed"]["id"] == dhaka.beds[1][0]
    stays_after = await stays_of(database, undone["id"])
    assert stays_after[:-1] == stays_before[:-1]
    assert stays_after[-1] == (*stays_before[-1][:2], None)
    assert [(r["service_date"], r["rate"]) for r in at_undo[0]] == [
        (r["service_date"], r["rate"]) for r in at_undo[1]]
    assert at_undo[0][-1]["service_date"] == FIRST_ACCRUAL
    expected = expected_nights(dhaka)
    for admission in (undone, stayed):
        got = [(r["service_date"], r["rate"]) for r in await charges(database.admin_url,
                                                                      admission["id"])]
        assert got == expected
    # The nights the discharge reversed were charged again, each after its reversal.
    rows = await ledger(database.admin_url, undone["id"])
    reversed_nights = [r["service_date"] for r in rows if r["entry"] == "reversal"]
    assert reversed_nights == [DISCHARGED + DAY * n for n in range(FIRST_ACCRUAL.day
                                                                   - DISCHARGED.day + 1)]
    assert sorted(r["service_date"] for r in rows if r["follows_id"] is not None) == (
        reversed_nights)
    writes = await admin_fetch(database.admin_url, """
        select o->>'operation' as operation
        from app.audit_events e cross join lateral jsonb_array_elements(e.objects) o
        where (o->>'objectId')::uuid = $1 and o->>'operation' <> 'READ'
        order by e.seq""", uuid_of(undone["id"]))
    assert [r["operation"] for r in writes] == ["CREATE", "UPDATE", "UPDATE", "UPDATE"]

    verified = billing_verify(database, "--tenant", dhaka.kit.slug)
    assert verified.returncode == 0, verified.stderr


async def test_undo_after_a_discharge_beyond_the_watermark_keeps_its_charges_once(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                            local(ADMITTED, 12, 0, DHAKA))
    await accrue(api, dhaka.billing, dhaka.facility, TRANSFERRED)
    await discharge(api, dhaka.nurse, admission["id"], local(DISCHARGED, 12, 0, DHAKA))
    await undo(api, dhaka.kit.admin_token, admission["id"])
    again = await undo(api, dhaka.kit.admin_token, admission["id"])
    await accrue(api, dhaka.billing, dhaka.facility, LAST_ACCRUAL)

    assert again.json()["data"]["undoDischarge"]["status"] == "ACTIVE"
    got = [r["service_date"] for r in await charges(database.admin_url, admission["id"])]
    assert got == midnights_spanned(local(ADMITTED, 12, 0, DHAKA), None, DHAKA,
                                    census_instant(LAST_ACCRUAL, DHAKA))
    assert not [r for r in await ledger(database.admin_url, admission["id"])
                if r["entry"] == "reversal"]
    assert billing_verify(database, "--tenant", dhaka.kit.slug).returncode == 0


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.AUDITOR],
                         ids=lambda r: r.value.lower())
async def test_only_an_admin_may_undo_a_discharge(
    api: Api, database: DatabaseUnderTest, dhaka: Site, role: Role,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0])
    await discharged_now(api, dhaka.nurse, admission["id"])
    refused = await undo(api, await dhaka.kit.user(role), admission["id"])
    assert code_of(refused) == "FORBIDDEN"
    [row] = await admin_fetch(database.admin_url, "select status::text from app.admissions "
                              "where id = $1", uuid_of(admission["id"]))
    assert row["status"] == "DISCHARGED"


async def test_a_partner_may_not_undo_a_discharge(api: Api, dhaka: Site) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0])
    refused = await undo(api, await dhaka.kit.partner(["admissions:read"]), admission["id"])
    assert code_of(refused) == "FORBIDDEN"


async def test_undo_of_another_tenants_admission_is_not_found_like_an_absent_one(
    api: Api, database: DatabaseUnderTest, dhaka: Site, other_tenant: TenantKit,
) -> None:
    theirs = await dhaka_site(other_tenant)
    admission = await admit(api, theirs.nurse, await theirs.patient(), theirs.beds[0][0])
    await discharged_now(api, theirs.nurse, admission["id"])
    foreign = await undo(api, dhaka.kit.admin_token, admission["id"])
    absent = await undo(api, dhaka.kit.admin_token, ids.encode("Admission", uuid.uuid4()))
    assert code_of(foreign) == "NOT_FOUND"

    def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
        for error in body.get("errors", []):
            error.get("extensions", {}).pop("requestId", None)
        return body

    assert without_request_id(foreign.json()) == without_request_id(absent.json())
    [row] = await admin_fetch(database.admin_url, "select status::text from app.admissions "
                              "where id = $1", uuid_of(admission["id"]))
    assert row["status"] == "DISCHARGED"


async def test_undo_when_the_bed_was_taken_since_is_bed_occupied_and_changes_nothing(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    first = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                        local(ADMITTED, 12, 0, DHAKA))
    await accrue(api, dhaka.billing, dhaka.facility, TRANSFERRED)
    await discharge(api, dhaka.nurse, first["id"], local(DISCHARGED, 12, 0, DHAKA))
    await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0],
                local(DISCHARGED, 13, 0, DHAKA))
    before = (await stays_of(database, first["id"]), await ledger_rows(database, first["id"]))

    refused = await undo(api, dhaka.kit.admin_token, first["id"])

    assert code_of(refused) == "BED_OCCUPIED"
    assert errors_of(refused)[0]["extensions"].get("field") in (None, "admissionId")
    [row] = await admin_fetch(database.admin_url, "select status::text, discharged_at "
                              "from app.admissions where id = $1", uuid_of(first["id"]))
    assert row["status"] == "DISCHARGED"
    assert (await stays_of(database, first["id"]), await ledger_rows(database, first["id"])) == (
        before)


async def test_undo_when_the_patient_was_admitted_elsewhere_is_patient_already_admitted(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    patient = await dhaka.patient()
    first = await admit(api, dhaka.nurse, patient, dhaka.beds[0][0])
    await discharged_now(api, dhaka.nurse, first["id"])
    await admit(api, dhaka.nurse, patient, dhaka.beds[0][1])
    refused = await undo(api, dhaka.kit.admin_token, first["id"])
    assert code_of(refused) == "PATIENT_ALREADY_ADMITTED"
    [row] = await admin_fetch(database.admin_url, "select status::text from app.admissions "
                              "where id = $1", uuid_of(first["id"]))
    assert row["status"] == "DISCHARGED"


async def test_an_admin_may_not_edit_a_discharged_admission_by_sql_except_to_reopen_it(
    api: Api, database: DatabaseUnderTest, dhaka: Site,
) -> None:
    admission = await admit(api, dhaka.nurse, await dhaka.patient(), dhaka.beds[0][0])
    await discharged_now(api, dhaka.nurse, admission["id"])
    async with as_role(database.api_url, Role.ADMIN, dhaka.kit.tenant_id) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError) as refused:
            await connection.execute(
                "update app.admissions set discharged_at = discharged_at - interval '1 hour' "
                "where id = $1", uuid_of(admission["id"]))
    assert refused.value.constraint_name == "admissions_history_is_closed"
