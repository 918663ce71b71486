"""Recording vital signs: who may, where the observation belongs, retries that never duplicate,
and the escalations a score raises."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from freezegun import freeze_time

from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.observing import (
    NORMAL,
    OBSERVATION_FIELDS,
    RECORD,
    Ward,
    admit,
    as_news2,
    error_of,
    escalation_rows,
    make_ward,
    observation_rows,
    record,
    record_input,
    released_together,
    uuid_of,
    vitals,
)
from tests.sql_roles import as_role
from wardgraph import ids, news2
from wardgraph.auth.claims import Role

NOW = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)  # 10:00 in Dhaka
MINUTE = timedelta(minutes=1)

# Aggregate 5 without a red score (respiration 21-24: 2, SpO2 94-95: 1, pulse 91-110: 1,
# temperature 38.1-39.0: 1): MEDIUM.
MEDIUM = vitals(respirationRate=22, spo2=95, pulse=95, temperature=38.5)
# One parameter scoring 3 (respiration 25 or more), aggregate 3: LOW_MEDIUM with a red score.
RED = vitals(respirationRate=25)
# Aggregate 2 (oxygen): LOW, no red score.
LOW = vitals(onOxygen=True)


@pytest.fixture
async def ward(tenant: TenantKit) -> Ward:
    return await make_ward(tenant)


# -- recording ---------------------------------------------------------------------------------

async def test_nurse_records_an_observation_scored_on_news2_at_the_request_clock(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        observation = await record(api, ward.nurse, ward.patient, MEDIUM)
    expected = news2.score(as_news2(MEDIUM))
    assert observation["recordedAt"] == "2025-03-01T04:00:00+00:00"
    assert observation["spo2Scale"] == "SCALE_1"
    assert {k: observation[k] for k in MEDIUM} == MEDIUM
    assert observation["news2"] == {
        "total": expected.total, "risk": expected.risk.value, "redScore": expected.red_score,
        "parameters": [{"name": p.name, "value": p.value, "score": p.score}
                       for p in expected.parameters],
        "monitoring": expected.monitoring, "response": expected.response}
    assert (observation["news2"]["total"], observation["news2"]["risk"]) == (5, "MEDIUM")
    (row,) = await observation_rows(database.admin_url, ward.kit.tenant_id)
    assert row["id"] == uuid_of(observation["id"])
    assert (row["news2_total"], row["risk"], row["news2_red_score"]) == (5, "MEDIUM", False)
    assert row["recorded_by_partner"] is None
    assert ids.encode("User", row["recorded_by_user"]) == (await api.data(
        "{ viewer { user { id } } }", None, ward.nurse))["viewer"]["user"]["id"]


async def test_temperature_is_stored_rounded_half_up_to_one_decimal(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    observation = await record(api, ward.nurse, ward.patient, vitals(temperature=35.05))
    assert observation["temperature"] == 35.1
    (row,) = await observation_rows(database.admin_url, ward.kit.tenant_id)
    assert str(row["temperature"]) == "35.1"


async def test_observation_of_a_patient_not_admitted_belongs_to_the_registering_facility(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    await record(api, ward.nurse, ward.patient)
    (row,) = await observation_rows(database.admin_url, ward.kit.tenant_id)
    assert ids.encode("Facility", row["facility_id"]) == ward.facility
    assert (row["admission_id"], row["ward_id"]) == (None, None)


async def test_observation_belongs_to_the_admission_and_ward_the_patient_is_in(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    # Registered at CTG, admitted to a ward of DHK: the observation is DHK's.
    kit = ward.kit
    elsewhere = await kit.facility("CTG", "Asia/Dhaka")
    patient = await kit.patient(elsewhere)
    admission = await admit(api, kit, patient, ward.beds[0], datetime.now(UTC) - 60 * MINUTE)
    before_admission = datetime.now(UTC) - 90 * MINUTE
    await record(api, ward.nurse, patient)
    await record(api, await kit.user(Role.NURSE, [elsewhere]), patient,
                 recordedAt=before_admission.isoformat())
    now_row, earlier_row = await observation_rows(database.admin_url, kit.tenant_id)
    assert ids.encode("Admission", now_row["admission_id"]) == admission
    assert ids.encode("Ward", now_row["ward_id"]) == ward.ward
    assert ids.encode("Facility", now_row["facility_id"]) == ward.facility
    # Taken before the admission began: no stay covers it, so the registering facility's.
    assert ids.encode("Facility", earlier_row["facility_id"]) == elsewhere
    assert (earlier_row["admission_id"], earlier_row["ward_id"]) == (None, None)


async def test_recorded_at_may_be_given_for_vitals_taken_earlier_or_a_little_ahead(
    api: Api, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        earlier = await record(api, ward.nurse, ward.patient,
                               recordedAt=(NOW - 90 * MINUTE).isoformat())
        ahead = await record(api, ward.nurse, ward.patient,
                             recordedAt=(NOW + 5 * MINUTE).isoformat())
    assert earlier["recordedAt"] == "2025-03-01T02:30:00+00:00"
    assert ahead["recordedAt"] == "2025-03-01T04:05:00+00:00"


@pytest.mark.parametrize("recorded_at", [
    pytest.param((NOW + 5 * MINUTE + timedelta(seconds=1)).isoformat(), id="past-the-skew"),
    pytest.param((NOW + timedelta(days=1)).isoformat(), id="tomorrow"),
    pytest.param("2025-03-01T04:00:00", id="without-offset"),
])
async def test_recorded_at_in_the_future_or_without_offset_is_refused(
    api: Api, database: DatabaseUnderTest, ward: Ward, recorded_at: str
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        error = await error_of(api, RECORD, record_input(ward.patient, NORMAL,
                                                         recordedAt=recorded_at), ward.nurse)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "recordedAt"}
    assert await observation_rows(database.admin_url, ward.kit.tenant_id) == []


@pytest.mark.parametrize("role", [Role.ADMIN, Role.BILLING, Role.AUDITOR],
                         ids=lambda r: r.value)
async def test_only_nurses_clinicians_and_writing_partners_record(
    api: Api, database: DatabaseUnderTest, ward: Ward, role: Role
) -> None:
    token = (ward.kit.admin_token if role is Role.ADMIN
             else await ward.kit.user(role, [ward.facility]))
    error = await error_of(api, RECORD, record_input(ward.patient, NORMAL), token)
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert await observation_rows(database.admin_url, ward.kit.tenant_id) == []


async def test_clinician_records_too(api: Api, ward: Ward) -> None:
    observation = await record(api, ward.clinician, ward.patient, RED)
    assert observation["news2"]["redScore"] is True


async def test_partner_records_only_with_observations_write(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    reader = await ward.kit.partner(["patients:read", "observations:read"])
    error = await error_of(api, RECORD, record_input(ward.patient, NORMAL), reader)
    assert error["extensions"]["code"] == "FORBIDDEN"
    writer = await ward.kit.partner(["patients:read", "observations:write"])
    observation = await record(api, writer, ward.patient, MEDIUM)
    (row,) = await observation_rows(database.admin_url, ward.kit.tenant_id)
    assert row["id"] == uuid_of(observation["id"])
    assert (row["recorded_by_user"], row["recorded_by_partner"] is not None) == (None, True)
    # Staff read it back with no recorder to name.
    data = await api.data("""query($id: ID!) { node(id: $id) {
        ... on Observation { recordedBy { id } } } }""", {"id": observation["id"]}, ward.nurse)
    assert data["node"] == {"recordedBy": None}


async def test_nurse_of_another_facility_cannot_record_for_a_patient_they_cannot_see(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    elsewhere = await ward.kit.facility("CTG", "Asia/Dhaka")
    stranger = await ward.kit.user(Role.NURSE, [elsewhere])
    error = await error_of(api, RECORD, record_input(ward.patient, NORMAL), stranger)
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert await observation_rows(database.admin_url, ward.kit.tenant_id) == []


@pytest.mark.parametrize("key", [None, "fresh-key"], ids=["no-key", "with-key"])
async def test_a_patient_out_of_sight_is_not_found_with_or_without_an_idempotency_key(
    api: Api, database: DatabaseUnderTest, ward: Ward, key: str | None
) -> None:
    elsewhere = await ward.kit.facility("SYL", "Asia/Dhaka")
    stranger = await ward.kit.user(Role.NURSE, [elsewhere])
    extra = {"idempotencyKey": key} if key else {}
    error = await error_of(api, RECORD, record_input(ward.patient, NORMAL, **extra), stranger)
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert await observation_rows(database.admin_url, ward.kit.tenant_id) == []


async def test_another_tenants_patient_is_not_found(
    api: Api, database: DatabaseUnderTest, ward: Ward, other_tenant: TenantKit
) -> None:
    theirs = await other_tenant.patient(other_tenant.facilities["DHK"])
    error = await error_of(api, RECORD, record_input(theirs, NORMAL), ward.nurse)
    assert error["extensions"] == {"code": "NOT_FOUND"}
    assert await observation_rows(database.admin_url, other_tenant.tenant_id) == []


# -- idempotent retries ------------------------------------------------------------------------

async def test_a_retry_with_the_same_key_answers_the_first_observation(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    with freeze_time(NOW, real_asyncio=True):
        first = await record(api, ward.nurse, ward.patient, MEDIUM, idempotencyKey="tab-7:1")
    with freeze_time(NOW + MINUTE, real_asyncio=True):  # the retry comes a minute later
        retry = await record(api, ward.nurse, ward.patient, MEDIUM, idempotencyKey="tab-7:1")
    assert retry == first
    assert len(await observation_rows(database.admin_url, ward.kit.tenant_id)) == 1
    assert len(await escalation_rows(database.admin_url, ward.kit.tenant_id)) == 1


async def test_two_concurrent_requests_with_one_key_create_one_observation(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    rounds = 3  # each round a new key, sent twice at once
    for n in range(rounds):
        variables = record_input(ward.patient, MEDIUM, idempotencyKey=f"dropped-{n}")
        responses = await released_together(api, [(RECORD, variables, ward.nurse)] * 2)
        assert [r.status_code for r in responses] == [200, 200]
        bodies = [r.json() for r in responses]
        assert [b.get("errors") for b in bodies] == [None, None]
        (answered,) = {b["data"]["recordObservation"]["id"] for b in bodies}
        rows = await admin_fetch(database.admin_url, """
            select id from app.observations where tenant_id = $1 and idempotency_key = $2""",
            ward.kit.tenant_id, f"dropped-{n}")
        assert [ids.encode("Observation", r["id"]) for r in rows] == [answered]
    assert len(await observation_rows(database.admin_url, ward.kit.tenant_id)) == rounds
    assert len(await escalation_rows(database.admin_url, ward.kit.tenant_id)) == rounds


@pytest.mark.parametrize("change", [
    pytest.param({"pulse": 71}, id="other-pulse"),
    pytest.param({"onOxygen": True}, id="other-oxygen"),
    pytest.param({"temperature": 37.1}, id="other-temperature"),
    pytest.param({"recordedAt": "2025-03-01T03:00:00+00:00"}, id="other-recorded-at"),
])
async def test_the_same_key_for_another_observation_is_refused(
    api: Api, database: DatabaseUnderTest, ward: Ward, change: dict[str, Any]
) -> None:
    first = record_input(ward.patient, NORMAL, idempotencyKey="k-1",
                         recordedAt="2025-03-01T03:30:00+00:00")
    with freeze_time(NOW, real_asyncio=True):
        await api.data(RECORD, first, ward.nurse)
        error = await error_of(api, RECORD, {"input": {**first["input"], **change}},
                               ward.nurse)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "idempotencyKey"}
    assert len(await observation_rows(database.admin_url, ward.kit.tenant_id)) == 1


async def test_the_same_key_from_another_recorder_or_patient_is_refused(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    await record(api, ward.nurse, ward.patient, NORMAL, idempotencyKey="shared")
    other_patient = await ward.kit.patient(ward.facility)
    for token, patient in [(ward.clinician, ward.patient), (ward.nurse, other_patient)]:
        error = await error_of(api, RECORD, record_input(patient, NORMAL,
                                                         idempotencyKey="shared"), token)
        assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "idempotencyKey"}
    assert len(await observation_rows(database.admin_url, ward.kit.tenant_id)) == 1


@pytest.mark.parametrize("key", [pytest.param("", id="empty"), pytest.param("k" * 201, id="201")])
async def test_an_idempotency_key_is_1_to_200_characters(
    api: Api, database: DatabaseUnderTest, ward: Ward, key: str
) -> None:
    error = await error_of(api, RECORD, record_input(ward.patient, NORMAL, idempotencyKey=key),
                           ward.nurse)
    assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": "idempotencyKey"}
    assert await observation_rows(database.admin_url, ward.kit.tenant_id) == []


# -- escalations -------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "escalates"), [
    pytest.param(MEDIUM, True, id="medium"),
    pytest.param(vitals(respirationRate=25, spo2=91, onOxygen=True), True, id="high"),
    pytest.param(RED, True, id="red-score"),
    pytest.param(LOW, False, id="low"),
    pytest.param(NORMAL, False, id="zero"),
])
async def test_an_escalation_is_written_exactly_when_news2_escalates(
    api: Api, database: DatabaseUnderTest, ward: Ward, given: dict[str, Any], escalates: bool
) -> None:
    assert news2.score(as_news2(given)).escalates is escalates
    await admit(api, ward.kit, ward.patient, ward.beds[0], datetime.now(UTC) - 60 * MINUTE)
    observation = await record(api, ward.nurse, ward.patient, given)
    rows = await escalation_rows(database.admin_url, ward.kit.tenant_id)
    if not escalates:
        assert rows == []
        return
    (row,) = rows
    (stored,) = await observation_rows(database.admin_url, ward.kit.tenant_id)
    assert row["observation_id"] == uuid_of(observation["id"])
    assert (row["patient_id"], row["facility_id"], row["ward_id"]) == (
        stored["patient_id"], stored["facility_id"], stored["ward_id"])
    assert ids.encode("Ward", row["ward_id"]) == ward.ward
    assert (row["news2_total"], row["risk"], row["red_score"]) == (
        observation["news2"]["total"], observation["news2"]["risk"],
        observation["news2"]["redScore"])


async def test_an_escalation_notifies_listeners_with_ids_only(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(database.admin_url)
    await listener.add_listener("wardgraph_escalations",
                                lambda *args: heard.put_nowait(args[3]))
    try:
        await record(api, ward.nurse, ward.patient, LOW)
        await record(api, ward.nurse, ward.patient, MEDIUM)
        payload = json.loads(await asyncio.wait_for(heard.get(), timeout=10))
        (row,) = await escalation_rows(database.admin_url, ward.kit.tenant_id)
        assert payload == {"tenantId": str(ward.kit.tenant_id), "escalationId": str(row["id"])}
        await asyncio.sleep(0.2)
        assert heard.empty()
    finally:
        await listener.close()


async def test_nobody_raises_an_escalation_for_an_observation_that_does_not_escalate(
    api: Api, database: DatabaseUnderTest, ward: Ward
) -> None:
    observation = await record(api, ward.nurse, ward.patient, LOW)
    (stored,) = await observation_rows(database.admin_url, ward.kit.tenant_id)
    user_id = stored["recorded_by_user"]
    async with as_role(database.admin_url, Role.NURSE, ward.kit.tenant_id,
                       (uuid_of(ward.facility),), user_id=user_id) as connection:
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await connection.execute("""
                insert into app.escalations (tenant_id, observation_id, patient_id,
                    facility_id, news2_total, news2_risk, red_score, raised_at)
                values ($1, $2, $3, $4, 6, 'MEDIUM', false, now())""",
                ward.kit.tenant_id, uuid_of(observation["id"]), stored["patient_id"],
                stored["facility_id"])


async def test_observation_fields_are_all_readable_by_the_recording_nurse(
    api: Api, ward: Ward
) -> None:
    observation = await record(api, ward.nurse, ward.patient, MEDIUM)
    data = await api.data(f"""query($id: ID!) {{ node(id: $id) {{ ... on Observation {{
        {OBSERVATION_FIELDS} patient {{ id }} recordedBy {{ role }} facility {{ code }}
        ward {{ id }} }} }} }}""", {"id": observation["id"]}, ward.nurse)
    assert data["node"] == {**observation, "patient": {"id": ward.patient},
                            "recordedBy": {"role": "NURSE"}, "facility": {"code": "DHK"},
                            "ward": None}
