"""Cursors are the server's own: signed with the server's secret and bound to one connection,
so a forged, edited or borrowed cursor is VALIDATION_FAILED on `after`, never INTERNAL."""

from __future__ import annotations

import base64
import json

import pytest

from tests.factories import TenantKit
from tests.harness import TEST_SECRET, Api
from wardgraph.auth.claims import Role
from wardgraph.cursors import CursorSigner
from wardgraph.errors import AppError

PATIENTS = """query($after: String) { patients(first: 1, after: $after) {
  edges { node { mrn } } pageInfo { endCursor } } }"""
FACILITIES = """query($after: String) { facilities(first: 1, after: $after) {
  edges { node { code } } pageInfo { endCursor } } }"""
EVENTS = """query($after: String) { auditEvents(first: 1, after: $after) {
  edges { cursor } } }"""


def unsigned(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def test_a_cursor_decodes_to_the_key_it_was_made_from() -> None:
    signer = CursorSigner(TEST_SECRET, "patients")
    assert signer.decode(signer.encode(["Lovelace", "Ada", "x"]), 3) == ["Lovelace", "Ada", "x"]


@pytest.mark.parametrize("cursor", [
    pytest.param(CursorSigner(TEST_SECRET, "facilities").encode(["DHK"]), id="other-connection"),
    pytest.param(CursorSigner("another secret", "patients").encode(["a", "b", "c"]),
                 id="other-secret"),
    pytest.param(unsigned(["a", "b", "c"]), id="unsigned"),
    pytest.param("x" * 10_000, id="huge"),
    pytest.param("", id="empty"),
    pytest.param("a.b", id="not-base64"),
    pytest.param("é.é", id="not-ascii"),
])
def test_a_cursor_the_connection_did_not_issue_is_refused_on_after(cursor: str) -> None:
    with pytest.raises(AppError) as refused:
        CursorSigner(TEST_SECRET, "patients").decode(cursor, 3)
    assert refused.value.extensions == {"code": "VALIDATION_FAILED", "field": "after"}


def test_an_edited_cursor_is_refused() -> None:
    signer = CursorSigner(TEST_SECRET, "patients")
    _, _, mac = signer.encode(["Lovelace", "Ada", "x"]).partition(".")
    edited = base64.urlsafe_b64encode(b'["Lovelace","Ada","y"]').decode().rstrip("=")
    with pytest.raises(AppError):
        signer.decode(f"{edited}.{mac}", 3)


FORGED = [
    pytest.param(unsigned([[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]), id="deeply-nested"),
    pytest.param(unsigned([1, 2, 3]), id="not-strings"),
    pytest.param(unsigned(["9" * 5000, "x", "y"]), id="huge-values"),
    pytest.param(unsigned([None, None, None]), id="nulls"),
    pytest.param(unsigned({"a": 1}), id="an-object"),
]


@pytest.mark.parametrize("cursor", FORGED)
@pytest.mark.parametrize("query", [pytest.param(PATIENTS, id="patients"),
                                   pytest.param(FACILITIES, id="facilities")])
async def test_forged_cursor_is_validation_failed_on_after(
    api: Api, tenant: TenantKit, query: str, cursor: str,
) -> None:
    body = await api.gql(query, {"after": cursor}, tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "after"}


@pytest.mark.parametrize("cursor", FORGED)
async def test_forged_audit_cursor_is_validation_failed_on_after(
    api: Api, tenant: TenantKit, cursor: str,
) -> None:
    body = await api.gql(EVENTS, {"after": cursor}, await tenant.user(Role.AUDITOR))
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "after"}


async def test_a_facilities_cursor_is_refused_by_patients(api: Api, tenant: TenantKit) -> None:
    await tenant.facility("CTG")
    cursor = (await api.data(FACILITIES, {}, tenant.admin_token))[
        "facilities"]["pageInfo"]["endCursor"]
    body = await api.gql(PATIENTS, {"after": cursor}, tenant.admin_token)
    assert body["errors"][0]["extensions"] == {"code": "VALIDATION_FAILED", "field": "after"}


async def test_the_servers_own_cursor_pages_on(api: Api, tenant: TenantKit) -> None:
    await tenant.facility("CTG")
    first = (await api.data(FACILITIES, {}, tenant.admin_token))["facilities"]
    second = (await api.data(FACILITIES, {"after": first["pageInfo"]["endCursor"]},
                             tenant.admin_token))["facilities"]
    assert [e["node"]["code"] for e in first["edges"] + second["edges"]] == ["CTG", "DHK"]
