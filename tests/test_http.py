"""GraphQL over HTTP as clients expect it: methods, media types and status codes (the
GraphQL-over-HTTP specification), CORS, and what production mode turns off."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator

import pytest

from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest, LiveServer
from tests.serving import code_of, live_server, serve_environment, wardgraph_command
from wardgraph.config import ConfigError, Settings
from wardgraph.server.transport import negotiate

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
INTROSPECTION = "{ __schema { queryType { name } } }"
CREATE_FACILITY = ('mutation { createFacility(input: {code: "GETX", name: "Get", '
                   'timezone: "UTC"}) { id } }')


async def test_query_over_get_runs(api: Api, tenant: TenantKit) -> None:
    response = await api.client.get(
        "/graphql", params={"query": "{ viewer { role } }"},
        headers={"authorization": f"Bearer {tenant.admin_token}", "accept": JSON})
    assert response.status_code == 200
    assert response.json() == {"data": {"viewer": {"role": "ADMIN"}}}


async def test_mutation_over_get_is_refused_with_405(
    api: Api, tenant: TenantKit, database: DatabaseUnderTest,
) -> None:
    response = await api.client.get(
        "/graphql", params={"query": CREATE_FACILITY},
        headers={"authorization": f"Bearer {tenant.admin_token}"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    rows = await admin_fetch(database.admin_url, "select 1 from app.facilities "
                             "where tenant_id = $1 and code = 'GETX'", tenant.tenant_id)
    assert rows == []


async def test_same_mutation_over_post_runs(api: Api, tenant: TenantKit) -> None:
    data = await api.data(CREATE_FACILITY, token=tenant.admin_token)
    assert data["createFacility"]["id"]


@pytest.mark.parametrize(("accept", "media_type"), [
    pytest.param(None, JSON, id="no-accept-means-json"),
    pytest.param("*/*", JSON, id="anything-means-json"),
    pytest.param(JSON, JSON, id="json"),
    pytest.param(GRAPHQL_RESPONSE, GRAPHQL_RESPONSE, id="graphql-response-json"),
    pytest.param(f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE, id="preferred-first"),
    pytest.param(f"{GRAPHQL_RESPONSE};q=0.5, {JSON}", JSON, id="json-preferred-by-q"),
    pytest.param(f"{JSON}, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE, id="tie-goes-to-the-spec-type"),
    pytest.param("text/html", None, id="neither"),
    pytest.param(f"{GRAPHQL_RESPONSE};q=0", None, id="refused-by-q-0"),
])
def test_negotiate_picks_the_media_type_from_accept(accept: str | None,
                                                    media_type: str | None) -> None:
    assert negotiate(accept) == media_type


@pytest.mark.parametrize("accept", [JSON, GRAPHQL_RESPONSE])
async def test_response_content_type_matches_accept(api: Api, accept: str) -> None:
    response = await api.client.post("/graphql", json={"query": "{ __typename }"},
                                     headers={"accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == accept


async def test_accept_without_a_graphql_media_type_answers_406(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": "{ __typename }"},
                                     headers={"accept": "text/csv"})
    assert response.status_code == 406


@pytest.mark.parametrize(("query", "code"), [
    pytest.param("{", "GRAPHQL_PARSE_FAILED", id="parse-error"),
    pytest.param("{ noSuchField }", "GRAPHQL_VALIDATION_FAILED", id="validation-error"),
])
@pytest.mark.parametrize(("accept", "status"), [
    pytest.param(GRAPHQL_RESPONSE, 400, id="graphql-response-json-4xx"),
    pytest.param(JSON, 200, id="json-200"),
])
async def test_request_error_status_follows_the_media_type(
    api: Api, query: str, code: str, accept: str, status: int,
) -> None:
    response = await api.client.post("/graphql", json={"query": query},
                                     headers={"accept": accept})
    assert response.status_code == status
    assert code_of(response) == code
    assert "data" not in response.json()


@pytest.mark.parametrize("accept", [GRAPHQL_RESPONSE, JSON])
async def test_field_error_keeps_200_and_data(api: Api, accept: str) -> None:
    # Not authenticated: the field fails, the request itself was fine.
    response = await api.client.post("/graphql", json={"query": "{ viewer { role } }"},
                                     headers={"accept": accept})
    assert response.status_code == 200
    assert code_of(response) == "UNAUTHENTICATED"
    assert "data" in response.json()


async def test_variable_coercion_failure_is_a_request_error(api: Api) -> None:
    response = await api.client.post(
        "/graphql", json={"query": "query($id: ID!) { node(id: $id) { id } }",
                          "variables": {"id": None}},
        headers={"accept": GRAPHQL_RESPONSE})
    assert response.status_code == 400


@pytest.mark.parametrize(("body", "headers", "status"), [
    pytest.param(b'{"query": "{ __typename }"}', {}, 415, id="no-content-type"),
    pytest.param(b'{"query": "{ __typename }"}', {"content-type": "text/plain"}, 415,
                 id="text-plain"),
    pytest.param(b'{ "not json', {"content-type": JSON}, 400, id="malformed-json"),
    pytest.param(b'{"qeury": "{ __typename }"}', {"content-type": JSON}, 400, id="no-query"),
    pytest.param(b'{"query": "{ __typename }", "operationName": 7}', {"content-type": JSON},
                 400, id="operation-name-not-a-string"),
    pytest.param(b'{"query": "{ __typename }", "variables": "x"}', {"content-type": JSON}, 400,
                 id="variables-not-a-map"),
])
async def test_malformed_request_is_refused_with_a_json_error(
    api: Api, body: bytes, headers: dict[str, str], status: int,
) -> None:
    response = await api.client.post("/graphql", content=body, headers=headers)
    assert response.status_code == status
    assert code_of(response) == "BAD_REQUEST"


async def test_every_response_carries_a_request_id(api: Api) -> None:
    first = await api.client.post("/graphql", json={"query": "{ __typename }"})
    second = await api.client.post("/graphql", content=b"{", headers={"content-type": JSON})
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2 and all(len(i) == 32 for i in ids)


async def test_subscription_over_http_is_refused(api: Api, tenant: TenantKit) -> None:
    response = await api.post("subscription { news2Alerts { total } }",
                              token=tenant.admin_token)
    assert code_of(response) == "GRAPHQL_VALIDATION_FAILED"


# -- CORS ----------------------------------------------------------------------------------------

ORIGIN = "https://ward.example"


@pytest.fixture(scope="module")
async def cors_server(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    async with live_server(database.api_url, cors_origins=(ORIGIN,)) as pair:
        yield pair


@pytest.mark.parametrize(("origin", "allowed"), [
    pytest.param(ORIGIN, True, id="configured-origin"),
    pytest.param("https://evil.example", False, id="other-origin"),
])
async def test_cors_preflight_allows_only_configured_origins(
    cors_server: tuple[LiveServer, Api], origin: str, allowed: bool,
) -> None:
    response = await cors_server[1].client.options("/graphql", headers={
        "origin": origin, "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type"})
    assert (response.headers.get("access-control-allow-origin") == origin) is allowed


async def test_cors_exposes_the_request_id(cors_server: tuple[LiveServer, Api]) -> None:
    response = await cors_server[1].client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_without_configured_origins_no_cors_headers(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": "{ __typename }"},
                                     headers={"origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers


def test_cors_origins_come_from_a_comma_list() -> None:
    settings = Settings.from_env({"WARDGRAPH_CORS_ORIGINS": f"{ORIGIN}, https://b.example,"})
    assert settings.cors_origins == (ORIGIN, "https://b.example")


# -- production mode -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def production(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    async with live_server(database.api_url, env="production") as pair:
        yield pair


async def test_production_refuses_introspection(production: tuple[LiveServer, Api]) -> None:
    response = await production[1].client.post("/graphql", json={"query": INTROSPECTION})
    assert code_of(response) == "GRAPHQL_VALIDATION_FAILED"
    assert "introspection" in response.json()["errors"][0]["message"].lower()


async def test_development_allows_introspection(api: Api) -> None:
    response = await api.client.post("/graphql", json={"query": INTROSPECTION})
    assert response.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize(("server", "page"), [
    pytest.param("production", False, id="production-serves-no-graphiql"),
    pytest.param("development", True, id="development-serves-graphiql"),
])
async def test_graphiql_only_in_development(
    api: Api, production: tuple[LiveServer, Api], server: str, page: bool,
) -> None:
    client = production[1].client if server == "production" else api.client
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert (response.status_code == 200 and "graphiql" in response.text.lower()) is page


@pytest.mark.parametrize(("secret", "refused"), [
    pytest.param(None, True, id="no-secret"),
    pytest.param("short", True, id="short-secret"),
    pytest.param("s" * 32, False, id="32-byte-secret"),
])
def test_production_requires_a_real_jwt_secret(secret: str | None, refused: bool) -> None:
    settings = Settings(env="production", jwt_secret=secret)
    if refused:
        with pytest.raises(ConfigError):
            settings.require_secret()
    else:
        assert settings.require_secret().jwt_secret == secret


def test_serve_in_production_without_a_secret_exits_with_a_clear_message(
    database: DatabaseUnderTest,
) -> None:
    env = serve_environment(database.api_url, database.admin_url, WARDGRAPH_ENV="production")
    del env["WARDGRAPH_JWT_SECRET"]
    result = subprocess.run(
        wardgraph_command("serve", "--port", "1"), env=env, capture_output=True, text=True,
        timeout=120)
    assert result.returncode != 0
    assert "WARDGRAPH_JWT_SECRET is required when WARDGRAPH_ENV=production" in result.stderr
