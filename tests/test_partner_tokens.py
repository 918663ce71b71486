"""Partner tokens: shown once, stored as a hash, scoped, refused at once when revoked or expired."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from freezegun import freeze_time

from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest
from wardgraph.auth.claims import Role

CREATE = """mutation($i: CreatePartnerTokenInput!) { createPartnerToken(input: $i) {
  token partnerToken { id name scopes expiresAt revokedAt facilities { code } } } }"""
REVOKE = """mutation($id: ID!) {
  revokePartnerToken(input: {id: $id}) { id revokedAt }
}"""
VIEWER = """{ viewer { kind role name scopes expiresAt partnerToken { name }
              facilities { code } } }"""


def token_input(tenant: TenantKit, **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "name": "Lab integration", "scopes": ["observations:read", "patients:read"],
        "facilityIds": [tenant.facilities["DHK"]],
        "expiresAt": (datetime.now(UTC) + timedelta(days=30)).isoformat()}
    values.update(changes)
    return {"i": values}


async def test_token_is_shown_once_and_only_its_hash_is_stored(
    api: Api, tenant: TenantKit, database: DatabaseUnderTest
) -> None:
    data = (await api.data(CREATE, token_input(tenant), tenant.admin_token))["createPartnerToken"]
    token = data["token"]
    assert token.startswith("wgp_") and len(token) >= 4 + 43  # 256 bits, base64url
    assert data["partnerToken"]["scopes"] == ["observations:read", "patients:read"]
    rows = await admin_fetch(database.admin_url,
                             "select p::text as whole, token_hash from app.partner_tokens p "
                             "where tenant_id = $1", tenant.tenant_id)
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).digest()
    assert token not in rows[0]["whole"] and token[4:] not in rows[0]["whole"]


async def test_partner_sees_its_own_name_scopes_expiry_and_facilities(
    api: Api, tenant: TenantKit
) -> None:
    await tenant.facility("LON", "Europe/London")
    data = (await api.data(CREATE, token_input(tenant), tenant.admin_token))["createPartnerToken"]
    viewer = (await api.data(VIEWER, {}, data["token"]))["viewer"]
    assert viewer["kind"] == "PARTNER" and viewer["role"] == "PARTNER"
    assert viewer["name"] == "Lab integration"
    assert viewer["partnerToken"] == {"name": "Lab integration"}
    assert viewer["scopes"] == ["observations:read", "patients:read"]
    assert viewer["expiresAt"] == data["partnerToken"]["expiresAt"]
    assert viewer["facilities"] == [{"code": "DHK"}]


async def test_revoked_token_is_refused_on_the_very_next_request(
    api: Api, tenant: TenantKit
) -> None:
    data = (await api.data(CREATE, token_input(tenant), tenant.admin_token))["createPartnerToken"]
    token, token_id = data["token"], data["partnerToken"]["id"]
    assert (await api.data("{ viewer { kind } }", {}, token))["viewer"]["kind"] == "PARTNER"
    revoked = await api.data(REVOKE, {"id": token_id}, tenant.admin_token)
    assert revoked["revokePartnerToken"]["revokedAt"]
    assert await api.error_code("{ viewer { kind } }", token=token) == "UNAUTHENTICATED"
    # Revoking again (here through the input form) keeps the first revocation time.
    again = await api.data(
        "mutation($i: RevokePartnerTokenInput!) { revokePartnerToken(input: $i) { revokedAt } }",
        {"i": {"id": token_id}}, tenant.admin_token)
    assert again["revokePartnerToken"]["revokedAt"] == revoked["revokePartnerToken"]["revokedAt"]


async def test_token_is_refused_from_the_instant_it_expires(api: Api, tenant: TenantKit) -> None:
    now = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
    with freeze_time(now, real_asyncio=True):
        data = await api.data(CREATE, token_input(
            tenant, expiresAt=(now + timedelta(hours=1)).isoformat()), tenant.admin_token)
    token = data["createPartnerToken"]["token"]
    with freeze_time(now + timedelta(minutes=59, seconds=59), real_asyncio=True):
        assert (await api.data("{ viewer { kind } }", {}, token))["viewer"]["kind"] == "PARTNER"
    with freeze_time(now + timedelta(hours=1), real_asyncio=True):
        assert await api.error_code("{ viewer { kind } }", token=token) == "UNAUTHENTICATED"


@pytest.mark.parametrize(("changes", "field"), [
    pytest.param({"scopes": ["everything:write"]}, "scopes", id="unknown-scope"),
    pytest.param({"scopes": []}, "scopes", id="no-scope"),
    pytest.param({"facilityIds": []}, "facilityIds", id="no-facility"),
    pytest.param({"expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt", id="past-expiry"),
    pytest.param({"expiresAt": (datetime.now(UTC) + timedelta(days=400)).isoformat()},
                 "expiresAt", id="beyond-a-year"),
])
async def test_bad_token_input_names_the_field(
    api: Api, tenant: TenantKit, changes: dict[str, object], field: str
) -> None:
    body = await api.gql(CREATE, token_input(tenant, **changes), tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": field}


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.NURSE, Role.BILLING, Role.AUDITOR])
async def test_only_admins_issue_and_revoke_partner_tokens(
    api: Api, tenant: TenantKit, role: Role
) -> None:
    token = await tenant.user(role)
    assert await api.error_code(CREATE, token_input(tenant), token) == "FORBIDDEN"
    created = await api.data(CREATE, token_input(tenant), tenant.admin_token)
    assert await api.error_code(REVOKE, {"id": created["createPartnerToken"]["partnerToken"]["id"]},
                                token) == "FORBIDDEN"


async def test_other_tenants_facility_or_token_answers_not_found(
    api: Api, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    body = await api.gql(CREATE, token_input(tenant, facilityIds=[
        other_tenant.facilities["DHK"]]), tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    theirs = await api.data(CREATE, token_input(other_tenant), other_tenant.admin_token)
    token_id = theirs["createPartnerToken"]["partnerToken"]["id"]
    assert await api.error_code(REVOKE, {"id": token_id}, tenant.admin_token) == "NOT_FOUND"
    # ... and their token still works.
    assert (await api.data("{ viewer { kind } }", {},
                           theirs["createPartnerToken"]["token"]))["viewer"]["kind"] == "PARTNER"


async def test_partner_reaches_only_its_tokens_facilities(api: Api, tenant: TenantKit) -> None:
    london = await tenant.facility("LON", "Europe/London")
    await tenant.patient(tenant.facilities["DHK"], mrn="IN-DHK")
    await tenant.patient(london, mrn="IN-LON")
    token = await tenant.partner(["patients:read"], [tenant.facilities["DHK"]])
    data = await api.data("{ patients { edges { node { mrn } } } }", {}, token)
    assert [e["node"]["mrn"] for e in data["patients"]["edges"]] == ["IN-DHK"]
    no_scope = await tenant.partner(["billing:read"])
    assert await api.error_code("{ patients { edges { node { mrn } } } }", token=no_scope) == (
        "FORBIDDEN")


async def test_revoked_writing_token_records_nothing_more(
    api: Api, tenant: TenantKit, database: DatabaseUnderTest
) -> None:
    patient = await tenant.patient(tenant.facilities["DHK"])
    data = (await api.data(CREATE, token_input(
        tenant, scopes=["patients:read", "observations:write"]), tenant.admin_token)
    )["createPartnerToken"]
    record = """mutation($i: RecordObservationInput!) { recordObservation(input: $i) { id } }"""
    vitals = {"patientId": patient, "respirationRate": 16, "spo2": 97, "onOxygen": False,
              "systolicBp": 120, "pulse": 70, "consciousness": "ALERT", "temperature": 37.0}
    await api.data(record, {"i": vitals}, data["token"])
    await api.data(REVOKE, {"id": data["partnerToken"]["id"]}, tenant.admin_token)
    assert await api.error_code(record, {"i": vitals}, data["token"]) == "UNAUTHENTICATED"
    rows = await admin_fetch(database.admin_url, "select count(*) as n from app.observations "
                             "where tenant_id = $1", tenant.tenant_id)
    assert rows[0]["n"] == 1


@pytest.mark.parametrize("change", [
    pytest.param(lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), id="last-character"),
    pytest.param(lambda t: t[:20], id="a-prefix"),
    pytest.param(lambda t: t + "x", id="one-character-more"),
])
async def test_a_token_that_differs_at_all_is_refused(
    api: Api, tenant: TenantKit, change: Callable[[str], str]
) -> None:
    token = await tenant.partner(["patients:read"])
    assert (await api.data("{ viewer { kind } }", {}, token))["viewer"]["kind"] == "PARTNER"
    assert await api.error_code("{ viewer { kind } }", token=change(token)) == "UNAUTHENTICATED"


async def test_revoking_takes_the_token_id_as_input_only(
    api: Api, tenant: TenantKit
) -> None:
    token = await tenant.partner(["patients:read"])
    data = await api.data("{ viewer { partnerToken { id } } }", {}, token)
    token_id = data["viewer"]["partnerToken"]["id"]
    code = await api.error_code("mutation($id: ID!) { revokePartnerToken(id: $id) { id } }",
                                {"id": token_id}, tenant.admin_token)
    assert code == "GRAPHQL_VALIDATION_FAILED"
    assert (await api.data("{ viewer { partnerToken { revokedAt } } }", {}, token)
            )["viewer"]["partnerToken"]["revokedAt"] is None


async def test_revoking_an_empty_id_is_not_found(api: Api, tenant: TenantKit) -> None:
    # An empty `id` once fell through to no id at all and answered INTERNAL.
    body = await api.gql('mutation { revokePartnerToken(input: {id: ""}) { id } }',
                         token=tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
