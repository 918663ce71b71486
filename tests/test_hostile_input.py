"""Malformed requests and hostile input get a GraphQL error with a 4xx, never a plain-text 500
or INTERNAL: bodies that are not UTF-8, not a JSON object, or nested too deep; text with NUL
bytes or lone surrogates in any field; dates and instants outside the served range."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import TenantKit
from tests.harness import Api
from wardgraph import input_rules
from wardgraph.auth.claims import Role
from wardgraph.server.transport import MAX_JSON_DEPTH, json_depth

GRAPHQL_RESPONSE = "application/graphql-response+json"


def bad_request(response: httpx.Response) -> str:
    """The code of a refused request, checking it is a JSON error body with a 4xx."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert "data" not in body
    return str(body["errors"][0]["extensions"]["code"])


# -- malformed bodies ------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    pytest.param(b'{"query": "{ viewer { role } }\xff"}', id="invalid-utf8"),
    pytest.param(b'{"query": "\xed\xa0\x80"}', id="utf8-encoded-surrogate"),
    pytest.param(b'"{ viewer { role } }"', id="top-level-string"),
    pytest.param(b"42", id="top-level-number"),
    pytest.param(b"null", id="top-level-null"),
    pytest.param(b"true", id="top-level-boolean"),
    pytest.param(b"[" * 990 + b"]" * 990, id="array-990-deep"),
    pytest.param(b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 990 + b"]" * 990
                 + b"}}", id="variables-990-deep"),
    pytest.param(b'{"query": "{ __typename }", "extensions": ' + b'{"a":' * 100 + b"1"
                 + b"}" * 100 + b"}", id="extensions-100-deep"),
    pytest.param(b"{", id="truncated"),
    pytest.param(b"", id="empty"),
])
@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, "application/json"])
async def test_malformed_body_is_a_json_400(api: Api, body: bytes, accept: str) -> None:
    response = await api.client.post("/graphql", content=body, headers={
        "content-type": "application/json", "accept": accept})
    assert response.status_code == 400, response.text
    assert bad_request(response) == "BAD_REQUEST"


async def test_a_body_that_is_not_json_is_still_unsupported_media_type(api: Api) -> None:
    response = await api.client.post("/graphql", content=b"hello", headers={
        "content-type": "text/plain"})
    assert response.status_code == 415


@pytest.mark.parametrize("variables", [
    pytest.param("[" * 990 + "]" * 990, id="990-deep"),
    pytest.param('"\\ud800"', id="a-string"),
])
async def test_malformed_get_variables_are_a_json_400(api: Api, variables: str) -> None:
    response = await api.client.get("/graphql", params={
        "query": "{ __typename }", "variables": variables})
    assert bad_request(response) == "BAD_REQUEST"


def test_json_depth_counts_arrays_and_objects() -> None:
    assert json_depth({"a": [1, {"b": []}]}) == 4
    assert json_depth("text") == 0
    assert json_depth([[[]]]) == 3


def test_json_nested_to_the_limit_is_accepted_and_one_more_refused() -> None:
    from wardgraph.server.transport import HttpRefusal, decode_request_json
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert json_depth(decode_request_json(at_limit)) == MAX_JSON_DEPTH
    with pytest.raises(HttpRefusal):
        decode_request_json("[" + at_limit + "]")


# -- text ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "problem"), [
    pytest.param("Ada", None, id="plain"),
    pytest.param("Zoë Nguyễn 李", None, id="non-ascii"),
    pytest.param("😀", None, id="astral-plane"),
    pytest.param("a\x00b", "NUL", id="nul"),
    pytest.param("\x00", "NUL", id="only-nul"),
    pytest.param("é\x00", "NUL", id="non-ascii-with-nul"),
    pytest.param("a\ud800b", "surrogate", id="lone-high-surrogate"),
    pytest.param("\udc00", "surrogate", id="lone-low-surrogate"),
])
def test_text_problem_names_nul_bytes_and_lone_surrogates(text: str,
                                                          problem: str | None) -> None:
    found = input_rules.text_problem(text)
    assert (found is None) if problem is None else (found is not None and problem in found)


NUL, SURROGATE = "a\x00b", "a\ud800b"


def mutations(tenant: TenantKit, text: str) -> list[Any]:
    """(document, variables, field) for every text input named in the reproduction."""
    facility = tenant.facilities["DHK"]
    return [
        ("mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
         {"i": {"mrn": text, "givenName": "Ada", "familyName": "L", "birthDate": "1960-05-01",
                "facilityId": facility}}, "mrn"),
        ("mutation($i: CreatePatientInput!) { createPatient(input: $i) { id } }",
         {"i": {"mrn": "M-1", "givenName": text, "familyName": "L", "birthDate": "1960-05-01",
                "facilityId": facility}}, "givenName"),
        ("mutation($i: CreateFacilityInput!) { createFacility(input: $i) { id } }",
         {"i": {"code": "ZZ", "name": text, "timezone": "Asia/Dhaka"}}, "name"),
        ("mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
         {"i": {"email": text, "role": "NURSE"}}, "email"),
        ("mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
         {"i": {"email": "n@x.example", "role": "NURSE", "password": text * 8}}, "password"),
        ("mutation($i: CreatePartnerTokenInput!) { createPartnerToken(input: $i) { token } }",
         {"i": {"name": text, "scopes": ["patients:read"], "facilityIds": [facility],
                "expiresAt": (datetime.now(UTC) + timedelta(days=1)).isoformat()}}, "name"),
        ("mutation($i: CreatePartnerTokenInput!) { createPartnerToken(input: $i) { token } }",
         {"i": {"name": "Lab", "scopes": [text], "facilityIds": [facility],
                "expiresAt": (datetime.now(UTC) + timedelta(days=1)).isoformat()}}, "scopes"),
        ("mutation($i: LoginInput!) { login(input: $i) { token } }",
         {"i": {"tenant": tenant.slug, "email": text, "password": "x" * 12}}, "email"),
        ("mutation($i: LoginInput!) { login(input: $i) { token } }",
         {"i": {"tenant": tenant.slug, "email": "a@b.example", "password": text}}, "password"),
        ("query($s: String) { patients(search: $s) { edges { cursor } } }", {"s": text}, "s"),
    ]


@pytest.mark.parametrize("text", [pytest.param(NUL, id="nul"),
                                  pytest.param(SURROGATE, id="lone-surrogate")])
async def test_bad_text_in_any_variable_is_validation_failed_naming_the_field(
    api: Api, tenant: TenantKit, text: str,
) -> None:
    for query, variables, field in mutations(tenant, text):
        # Escaped as JSON does it (a lone surrogate cannot be sent as UTF-8).
        response = await api.client.post(
            "/graphql", content=json.dumps({"query": query, "variables": variables}),
            headers={"content-type": "application/json",
                     "authorization": f"Bearer {tenant.admin_token}"})
        assert response.status_code == 200, response.text
        body = json.loads(response.content)  # valid JSON, whatever the input held
        assert "data" not in body, (field, body)
        error = body["errors"][0]
        assert error["extensions"] == {"code": "VALIDATION_FAILED", "field": field}, field
        assert "\ud800" not in error["message"] and "\x00" not in error["message"]


async def test_bad_text_in_a_literal_is_validation_failed_naming_the_argument(
        api: Api, tenant: TenantKit) -> None:
    body = await api.gql('{ patients(search: "a\\u0000b") { edges { cursor } } }',
                         token=tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "search"}


async def test_lone_surrogate_in_scopes_answers_json_with_a_4xx(api: Api,
                                                                tenant: TenantKit) -> None:
    # It was a plain-text 500: "Unknown scope" repeated the input and the reply failed to encode.
    body = (b'{"query": "mutation($i: CreatePartnerTokenInput!) { createPartnerToken(input: $i) '
            b'{ token } }", "variables": {"i": {"name": "Lab", "scopes": ["\\ud800"], '
            b'"facilityIds": ["' + tenant.facilities["DHK"].encode() + b'"], '
            b'"expiresAt": "2030-01-01T00:00:00Z"}}}')
    response = await api.client.post("/graphql", content=body, headers={
        "content-type": "application/json", "accept": GRAPHQL_RESPONSE,
        "authorization": f"Bearer {tenant.admin_token}"})
    assert bad_request(response) == "VALIDATION_FAILED"


async def test_nul_in_an_idempotency_key_is_validation_failed(api: Api,
                                                              tenant: TenantKit) -> None:
    facility = tenant.facilities["DHK"]
    patient = await tenant.patient(facility)
    nurse = await tenant.user(Role.NURSE)
    body = await api.gql(
        "mutation($i: RecordObservationInput!) { recordObservation(input: $i) { id } }",
        {"i": {"patientId": patient, "respirationRate": 16, "spo2": 97, "onOxygen": False,
               "systolicBp": 120, "pulse": 70, "consciousness": "ALERT", "temperature": 37.0,
               "idempotencyKey": NUL}}, nurse)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                               "field": "idempotencyKey"}


# -- dates and instants ----------------------------------------------------------------------

@pytest.mark.parametrize(("value", "allowed"), [
    pytest.param(date(1899, 12, 31), False, id="1899-12-31"),
    pytest.param(date(1900, 1, 1), True, id="1900-01-01"),
    pytest.param(date(2200, 12, 31), True, id="2200-12-31"),
    pytest.param(date(2201, 1, 1), False, id="2201-01-01"),
    pytest.param(date(1, 1, 1), False, id="0001-01-01"),
    pytest.param(date(9999, 12, 31), False, id="9999-12-31"),
])
def test_date_range_edges(value: date, allowed: bool) -> None:
    assert (input_rules.date_problem(value) is None) is allowed


@pytest.mark.parametrize(("value", "allowed"), [
    pytest.param(datetime(1899, 12, 31, 23, 59, 59, tzinfo=UTC), False, id="just-before-1900"),
    pytest.param(datetime(1900, 1, 1, tzinfo=UTC), True, id="1900-01-01"),
    pytest.param(datetime(1, 1, 1, tzinfo=UTC), False, id="0001-01-01"),
])
def test_business_instants_start_in_1900(value: datetime, allowed: bool) -> None:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    if allowed:
        assert input_rules.business_instant("at", value, now) == value
    else:
        with pytest.raises(Exception, match="before 1900"):
            input_rules.business_instant("at", value, now)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_daily_report_beyond_the_date_range_is_validation_failed(
    api: Api, tenant: TenantKit, day: str,
) -> None:
    facility = tenant.facilities["DHK"]
    as_variable = await api.gql(
        "query($f: ID!, $d: Date!) { dailyReport(facilityId: $f, from: $d, to: $d) { date } }",
        {"f": facility, "d": day}, tenant.admin_token)
    as_literal = await api.gql(
        f'query($f: ID!) {{ dailyReport(facilityId: $f, from: "{day}", to: "{day}") '
        "{ date } }", {"f": facility}, tenant.admin_token)
    assert as_variable["errors"][0]["extensions"]["code"] == "VALIDATION_FAILED"
    assert as_literal["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                                     "field": "from"}


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
async def test_accrue_bed_days_beyond_the_date_range_is_validation_failed(
    api: Api, tenant: TenantKit, day: str,
) -> None:
    facility = tenant.facilities["DHK"]
    body = await api.gql(
        "mutation($f: ID!, $through: Date!) "
        "{ accrueBedDays(input: {facilityId: $f, through: $through}) { __typename } }",
        {"f": facility, "through": day}, tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "through"}


async def test_admission_and_observation_at_year_one_are_validation_failed(
    api: Api, tenant: TenantKit,
) -> None:
    facility = tenant.facilities["DHK"]
    ward = await tenant.ward(facility)
    bed = await tenant.bed(ward, "A-01")
    patient = await tenant.patient(facility)
    nurse = await tenant.user(Role.NURSE)
    admitted = await api.gql(
        "mutation($i: AdmitPatientInput!) { admitPatient(input: $i) { id } }",
        {"i": {"patientId": patient, "bedId": bed, "admittedAt": "0001-01-01T00:00:00Z"}},
        nurse)
    recorded = await api.gql(
        "mutation($i: RecordObservationInput!) { recordObservation(input: $i) { id } }",
        {"i": {"patientId": patient, "respirationRate": 16, "spo2": 97, "onOxygen": False,
               "systolicBp": 120, "pulse": 70, "consciousness": "ALERT", "temperature": 37.0,
               "recordedAt": "0001-01-01T00:00:00Z"}}, nurse)
    assert admitted["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                                   "field": "admittedAt"}
    assert recorded["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                                   "field": "recordedAt"}


async def test_observation_recorded_in_1899_is_refused_and_stores_nothing(
    api: Api, tenant: TenantKit,
) -> None:
    facility = tenant.facilities["DHK"]
    patient = await tenant.patient(facility)
    nurse = await tenant.user(Role.NURSE)
    body = await api.gql(
        "mutation($i: RecordObservationInput!) { recordObservation(input: $i) { id } }",
        {"i": {"patientId": patient, "respirationRate": 16, "spo2": 97, "onOxygen": False,
               "systolicBp": 120, "pulse": 70, "consciousness": "ALERT", "temperature": 37.0,
               "recordedAt": "1899-12-31T23:59:59Z"}}, nurse)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED",
                                               "field": "recordedAt"}
    assert (body.get("data") or {}).get("recordObservation") is None
