"""The SpO2 scale is a prescription: only the clinical roles read it. A partner recording vital
signs still has them scored on the patient's scale, through a function, without the column."""

from __future__ import annotations

import pytest

from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from tests.observing import NORMAL, SET_SPO2_SCALE, as_news2, record, vitals
from wardgraph import news2
from wardgraph.auth.claims import Role

READ_SCALE = "query($id: ID!) { patient(id: $id) { mrn spo2Scale } }"


@pytest.mark.parametrize(("role", "column"), [
    pytest.param("wg_clinician", True, id="clinician"),
    pytest.param("wg_nurse", True, id="nurse"),
    pytest.param("wg_admin", False, id="admin"),
    pytest.param("wg_partner", False, id="partner"),
    pytest.param("wg_billing", False, id="billing"),
    pytest.param("wg_auditor", False, id="auditor"),
])
async def test_spo2_scale_column_is_granted_to_clinical_roles_only(
    database: DatabaseUnderTest, role: str, column: bool,
) -> None:
    rows = await admin_fetch(database.admin_url, """
        select has_column_privilege($1, 'app.patients', c, 'SELECT') as granted
        from unnest(array['spo2_scale', 'spo2_scale_set_by', 'spo2_scale_set_at']) as c""",
                             role)
    assert [r["granted"] for r in rows] == [column] * 3


async def test_partner_with_patients_read_cannot_read_the_spo2_scale(
        api: Api, tenant: TenantKit) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    partner = await tenant.partner(["patients:read"])
    body = await api.gql(READ_SCALE, {"id": patient}, partner)
    assert body["data"]["patient"]["mrn"]
    assert body["data"]["patient"]["spo2Scale"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_admin_cannot_read_the_spo2_scale(api: Api, tenant: TenantKit) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    body = await api.gql(READ_SCALE, {"id": patient}, tenant.admin_token)
    assert body["errors"][0]["path"] == ["patient", "spo2Scale"]
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_partner_recording_scores_on_the_patients_scale_2(
        api: Api, tenant: TenantKit) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    clinician = await tenant.user(Role.CLINICIAN)
    await api.data(SET_SPO2_SCALE, {"input": {"patientId": patient, "scale": "SCALE_2"}},
                   clinician)
    partner = await tenant.partner(["patients:read", "observations:write"])
    given = vitals(spo2=90)  # scale 1: 2 points; scale 2 on air, at target 88-92: 0
    observation = await record(api, partner, patient, given)
    assert observation["spo2Scale"] == "SCALE_2"
    on_scale_2 = news2.score(as_news2(given), news2.Spo2Scale.SCALE_2)
    on_scale_1 = news2.score(as_news2(given), news2.Spo2Scale.SCALE_1)
    assert on_scale_1.total != on_scale_2.total
    assert observation["news2"]["total"] == on_scale_2.total


async def test_nurse_recording_on_scale_1_is_unchanged(api: Api, tenant: TenantKit) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    nurse = await tenant.user(Role.NURSE)
    observation = await record(api, nurse, patient, NORMAL)
    assert observation["spo2Scale"] == "SCALE_1"
