"""Authentication: login, user JWTs (HS256 and RS256) and what a bad credential gets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Literal

import jwt
import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from freezegun import freeze_time

from tests.factories import TenantKit
from tests.harness import TEST_SECRET, Api, DatabaseUnderTest, LiveServer, settings_for_tests
from wardgraph.auth import tokens as auth
from wardgraph.auth.claims import Claims, Role

LOGIN = """mutation($input: LoginInput!) { login(input: $input) { token expiresAt } }"""
VIEWER = "{ viewer { role kind tenant { slug } user { email } } }"


async def user_with_password(api: Api, tenant: TenantKit, email: str, password: str) -> None:
    await api.data(
        "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
        {"i": {"email": email, "role": "NURSE", "password": password,
               "facilityIds": [tenant.facilities["DHK"]]}}, tenant.admin_token)


async def test_login_returns_a_token_that_works(api: Api, tenant: TenantKit) -> None:
    await user_with_password(api, tenant, "ward.nurse@h.example", "correct horse battery")
    data = await api.data(LOGIN, {"input": {"tenant": tenant.slug, "email": "ward.nurse@h.example",
                                            "password": "correct horse battery"}})
    viewer = await api.data(VIEWER, {}, data["login"]["token"])
    assert viewer["viewer"] == {"role": "NURSE", "kind": "USER", "tenant": {"slug": tenant.slug},
                                "user": {"email": "ward.nurse@h.example"}}


async def test_wrong_password_unknown_email_and_unknown_tenant_answer_alike(
    api: Api, tenant: TenantKit
) -> None:
    await user_with_password(api, tenant, "a.nurse@h.example", "correct horse battery")
    attempts = [
        {"tenant": tenant.slug, "email": "a.nurse@h.example", "password": "wrong password!"},
        {"tenant": tenant.slug, "email": "nobody@h.example", "password": "correct horse battery"},
        {"tenant": "no-such-tenant", "email": "a.nurse@h.example",
         "password": "correct horse battery"},
    ]
    responses = [await api.post(LOGIN, {"input": a}) for a in attempts]
    assert len({r.content for r in responses}) == 1
    assert responses[0].json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


def test_unknown_user_still_costs_one_argon2_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
            calls.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(auth, "_hasher", CountingHasher())
    assert auth.verify_password(None, "anything") is False
    assert auth.verify_password(auth.hash_password("right password"), "wrong") is False
    assert auth.verify_password(auth.hash_password("right password"), "right password") is True
    assert len(calls) == 3


async def test_no_token_is_unauthenticated(api: Api) -> None:
    assert await api.error_code(VIEWER) == "UNAUTHENTICATED"


@pytest.mark.parametrize("header", [
    pytest.param("Basic dXNlcjpwYXNz", id="basic-scheme"),
    pytest.param("Bearer not.a.jwt", id="garbage"),
    pytest.param("Bearer", id="scheme-without-token"),
    pytest.param("Bearer wgp_unknownpartnertoken", id="unknown-partner-token"),
])
async def test_bad_credentials_are_unauthenticated(api: Api, header: str) -> None:
    response = await api.post(VIEWER, headers={"Authorization": header})
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}


def user_claims(tenant: TenantKit) -> Claims:
    return Claims(tenant_id=tenant.tenant_id, role=Role.NURSE,
                  user_id=tenant.tenant_id, facility_ids=())


async def test_token_signed_with_another_secret_is_refused(api: Api, tenant: TenantKit) -> None:
    forged = auth.issue_user_token(
        settings_for_tests(jwt_secret="another-secret-" + "y" * 40), user_claims(tenant),
        datetime.now(UTC), timedelta(hours=1))
    assert await api.error_code(VIEWER, token=forged) == "UNAUTHENTICATED"


async def test_unsigned_token_is_refused(api: Api, tenant: TenantKit) -> None:
    payload = {"iss": "wardgraph", "sub": str(tenant.tenant_id), "tid": str(tenant.tenant_id),
               "role": "ADMIN", "iat": 0, "exp": 4_000_000_000}
    unsigned = jwt.encode(payload, key=None, algorithm="none")  # type: ignore[arg-type]
    assert await api.error_code(VIEWER, token=unsigned) == "UNAUTHENTICATED"


async def test_partner_role_cannot_be_claimed_in_a_user_jwt(api: Api, tenant: TenantKit) -> None:
    payload = {"iss": "wardgraph", "sub": str(tenant.tenant_id), "tid": str(tenant.tenant_id),
               "role": "PARTNER", "iat": 0, "exp": 4_000_000_000}
    token = jwt.encode(payload, TEST_SECRET, algorithm="HS256")
    assert await api.error_code(VIEWER, token=token) == "UNAUTHENTICATED"


async def test_token_is_refused_from_the_second_it_expires(api: Api, tenant: TenantKit) -> None:
    issued = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
    token = auth.issue_user_token(settings_for_tests(), user_claims(tenant), issued,
                                  timedelta(minutes=15))
    with freeze_time(issued + timedelta(minutes=14, seconds=59), real_asyncio=True):
        assert (await api.data("{ viewer { role } }", {}, token))["viewer"]["role"] == "NURSE"
    with freeze_time(issued + timedelta(minutes=15), real_asyncio=True):
        assert await api.error_code("{ viewer { role } }", token=token) == "UNAUTHENTICATED"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def rs256_api(database: DatabaseUnderTest, rsa_key: rsa.RSAPrivateKey
                    ) -> AsyncIterator[Api]:
    public = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    server = LiveServer(settings_for_tests(jwt_public_key=public, pool_max_size=5),
                        database.api_url)
    await server.start()
    client = Api(server.url)
    try:
        yield client
    finally:
        await client.close()
        await server.stop()


async def test_rs256_token_of_an_external_identity_provider_is_accepted(
    rs256_api: Api, tenant: TenantKit, rsa_key: rsa.RSAPrivateKey
) -> None:
    payload = {"iss": "wardgraph", "sub": str(tenant.tenant_id), "tid": str(tenant.tenant_id),
               "role": "ADMIN", "fac": [], "iat": 0, "exp": 4_000_000_000}
    token = jwt.encode(payload, rsa_key, algorithm="RS256")
    data = await rs256_api.data("{ viewer { role tenant { slug } } }", {}, token)
    assert data["viewer"] == {"role": "ADMIN", "tenant": {"slug": tenant.slug}}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(payload, other_key, algorithm="RS256")
    assert await rs256_api.error_code("{ viewer { role } }", token=forged) == "UNAUTHENTICATED"
