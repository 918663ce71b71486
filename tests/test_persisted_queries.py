"""Persisted queries: the Automatic Persisted Queries round trip over POST and GET, the
operator's allow-list (`wardgraph operations add`), and the registry's rules in SQL."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.factories import TenantKit, admin_fetch
from tests.harness import Api, DatabaseUnderTest, LiveServer
from tests.serving import code_of, live_server, serve_environment, wardgraph_command
from wardgraph.pipeline.persisted import operations_of, sha256_hex
from wardgraph.schema import build_schema


def apq(query_hash: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": query_hash}}


async def post(api: Api, body: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await api.client.post("/graphql", json=body, headers=headers)


async def get(api: Api, params: dict[str, str], token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}", "accept": "application/json"} if token else {
        "accept": "application/json"}
    return await api.client.get("/graphql", params=params, headers=headers)


async def stored(database: DatabaseUnderTest, query_hash: str) -> list[asyncpg.Record]:
    return await admin_fetch(database.admin_url, "select query, allow_listed from "
                             "platform.persisted_queries where sha256 = $1", query_hash)


def unique_query(tag: str) -> str:
    # A fresh text per test: the registry is shared by the whole session.
    return f"query {tag} {{ viewer {{ role }} }}"


async def test_apq_round_trip_over_post(
    api: Api, tenant: TenantKit, database: DatabaseUnderTest,
) -> None:
    query = unique_query(f"Post{tenant.slug.replace('-', '')}")
    query_hash = sha256_hex(query)
    unknown = await post(api, {"extensions": apq(query_hash)}, tenant.admin_token)
    assert code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"

    registered = await post(api, {"query": query, "extensions": apq(query_hash)},
                            tenant.admin_token)
    assert registered.json() == {"data": {"viewer": {"role": "ADMIN"}}}
    assert [dict(r) for r in await stored(database, query_hash)] == [
        {"query": query, "allow_listed": False}]

    by_hash = await post(api, {"extensions": apq(query_hash)}, tenant.admin_token)
    assert by_hash.json() == {"data": {"viewer": {"role": "ADMIN"}}}


async def test_apq_round_trip_over_get(api: Api, tenant: TenantKit) -> None:
    query = unique_query(f"Get{tenant.slug.replace('-', '')}")
    extensions = json.dumps(apq(sha256_hex(query)))
    unknown = await get(api, {"extensions": extensions}, tenant.admin_token)
    assert unknown.status_code == 200
    assert code_of(unknown) == "PERSISTED_QUERY_NOT_FOUND"
    registered = await get(api, {"query": query, "extensions": extensions}, tenant.admin_token)
    assert registered.json() == {"data": {"viewer": {"role": "ADMIN"}}}
    by_hash = await get(api, {"extensions": extensions}, tenant.admin_token)
    assert by_hash.json() == {"data": {"viewer": {"role": "ADMIN"}}}


async def test_persisted_mutation_over_get_is_refused_with_405(
    api: Api, tenant: TenantKit,
) -> None:
    mutation = ('mutation { createFacility(input: {code: "APQ", name: "Apq", timezone: "UTC"})'
                " { code } }")
    query_hash = sha256_hex(mutation)
    first = await post(api, {"query": mutation, "extensions": apq(query_hash)},
                       tenant.admin_token)
    assert first.json() == {"data": {"createFacility": {"code": "APQ"}}}
    response = await get(api, {"extensions": json.dumps(apq(query_hash))}, tenant.admin_token)
    assert response.status_code == 405


async def test_hash_that_is_not_the_querys_is_refused_and_not_stored(
    api: Api, tenant: TenantKit, database: DatabaseUnderTest,
) -> None:
    query = unique_query(f"Mismatch{tenant.slug.replace('-', '')}")
    wrong = sha256_hex(query + " ")
    response = await post(api, {"query": query, "extensions": apq(wrong)}, tenant.admin_token)
    assert code_of(response) == "VALIDATION_FAILED"
    assert response.json()["errors"][0]["extensions"]["field"] == (
        "extensions.persistedQuery.sha256Hash")
    assert await stored(database, wrong) == []


@pytest.mark.parametrize("persisted", [
    pytest.param({"version": 2, "sha256Hash": "0" * 64}, id="version-2"),
    pytest.param({"version": 1, "sha256Hash": "xyz"}, id="not-a-hash"),
    pytest.param("abc", id="not-an-object"),
])
async def test_malformed_persisted_query_extension_is_refused(
    api: Api, persisted: object,
) -> None:
    response = await post(api, {"extensions": {"persistedQuery": persisted}})
    assert code_of(response) == "VALIDATION_FAILED"


async def test_anonymous_callers_run_but_do_not_register(
    api: Api, database: DatabaseUnderTest,
) -> None:
    query = "query AnonymousApq { __typename }"
    response = await post(api, {"query": query, "extensions": apq(sha256_hex(query))})
    assert response.json() == {"data": {"__typename": "Query"}}
    assert await stored(database, sha256_hex(query)) == []


async def test_query_that_does_not_validate_is_not_registered(
    api: Api, tenant: TenantKit, database: DatabaseUnderTest,
) -> None:
    query = f"query Bad{tenant.slug.replace('-', '')} {{ noSuchField }}"
    response = await post(api, {"query": query, "extensions": apq(sha256_hex(query))},
                          tenant.admin_token)
    assert code_of(response) == "GRAPHQL_VALIDATION_FAILED"
    assert await stored(database, sha256_hex(query)) == []


# -- the registry in SQL -------------------------------------------------------------------------

async def _as_api(database: DatabaseUnderTest, sql: str, *args: object) -> object:
    connection = await asyncpg.connect(database.api_url)
    try:
        return await connection.fetchval(sql, *args)
    finally:
        await connection.close()


async def test_api_login_role_cannot_read_the_table_directly(
    database: DatabaseUnderTest,
) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await _as_api(database, "select count(*) from platform.persisted_queries")


async def test_database_refuses_a_hash_that_is_not_the_texts(
    database: DatabaseUnderTest,
) -> None:
    with pytest.raises(asyncpg.CheckViolationError) as refused:
        await _as_api(database, "select auth.register_persisted_query($1, $2)",
                      "0" * 64, "{ __typename }")
    assert refused.value.constraint_name == "persisted_queries_sha256_matches"


async def test_registration_through_the_function_never_allow_lists(
    database: DatabaseUnderTest,
) -> None:
    query = "query RegisteredInSql { __typename }"
    await _as_api(database, "select auth.register_persisted_query($1, $2)",
                  sha256_hex(query), query)
    assert [dict(r) for r in await stored(database, sha256_hex(query))] == [
        {"query": query, "allow_listed": False}]


async def test_registry_functions_are_callable_by_the_api_role_only(
    database: DatabaseUnderTest,
) -> None:
    rows = await admin_fetch(database.admin_url, """
        select p.proname, array_agg(distinct a.grantee::regrole::text order by
                                    a.grantee::regrole::text) as grantees,
               bool_or(a.grantee = 0) as public, p.prosecdef,
               p.proowner::regrole::text as owner, p.proconfig
        from pg_proc p cross join lateral aclexplode(p.proacl) a
        where p.pronamespace = 'auth'::regnamespace
          and p.proname in ('persisted_query', 'register_persisted_query')
          and a.privilege_type = 'EXECUTE' and a.grantee <> p.proowner
        group by p.proname, p.prosecdef, p.proowner, p.proconfig order by 1""")
    assert [(r["proname"], r["grantees"], r["public"], r["prosecdef"], r["owner"],
             r["proconfig"]) for r in rows] == [
        (name, ["wg_api"], False, True, "wg_query_registry", ["search_path=pg_catalog, pg_temp"])
        for name in ("persisted_query", "register_persisted_query")]


# -- the allow-list ------------------------------------------------------------------------------

ALLOWED_FILE = """
query AllowedViewer { viewer { role ...Who } }
query AllowedFacilities($first: Int) { facilities(first: $first) { edges { node { code } } } }
fragment Who on Viewer { kind }
"""


@pytest.fixture(scope="module")
async def allowlist(database: DatabaseUnderTest) -> AsyncIterator[tuple[LiveServer, Api]]:
    async with live_server(database.api_url, persisted_queries="allowlist") as pair:
        yield pair


@pytest.fixture(scope="module")
def allow_listed(database: DatabaseUnderTest, tmp_path_factory: pytest.TempPathFactory
                 ) -> dict[str, str]:
    """`wardgraph operations add` on a file of two operations: name -> printed hash."""
    path = Path(tmp_path_factory.mktemp("operations")) / "mobile.graphql"
    path.write_text(ALLOWED_FILE, encoding="utf-8")
    result = subprocess.run(
        wardgraph_command("operations", "add", str(path)),
        env=serve_environment(database.api_url, database.admin_url),
        capture_output=True, text=True, timeout=120, check=True)
    printed: dict[str, str] = {}
    for line in result.stdout.splitlines():
        query_hash, name = line.split("  ", 1)
        printed[name] = query_hash
    assert set(printed) == {"AllowedViewer", "AllowedFacilities"}
    return printed


def test_operations_of_a_file_carry_the_fragments_they_use() -> None:
    operations = {o.name: o for o in operations_of(ALLOWED_FILE, build_schema()._schema)}
    assert "fragment Who on Viewer" in operations["AllowedViewer"].text
    assert "fragment" not in operations["AllowedFacilities"].text


def test_operations_of_a_file_that_does_not_validate_are_refused() -> None:
    with pytest.raises(ValueError, match="noSuchField"):
        operations_of("query Q { noSuchField }", build_schema()._schema)


async def test_allow_listed_operation_runs_by_hash(
    allowlist: tuple[LiveServer, Api], allow_listed: dict[str, str], tenant: TenantKit,
) -> None:
    response = await post(allowlist[1], {"extensions": apq(allow_listed["AllowedViewer"])},
                          tenant.admin_token)
    assert response.json() == {"data": {"viewer": {"role": "ADMIN", "kind": "USER"}}}


async def test_allow_listed_operation_runs_by_its_exact_text(
    allowlist: tuple[LiveServer, Api], allow_listed: dict[str, str], tenant: TenantKit,
    database: DatabaseUnderTest,
) -> None:
    [row] = await stored(database, allow_listed["AllowedFacilities"])
    assert row["allow_listed"] is True
    response = await post(allowlist[1], {"query": row["query"], "variables": {"first": 1}},
                          tenant.admin_token)
    assert response.json() == {"data": {"facilities": {"edges": [{"node": {"code": "DHK"}}]}}}


@pytest.mark.parametrize("how", ["text", "apq-registration", "client-registered-hash"])
async def test_operation_off_the_allow_list_is_refused(
    allowlist: tuple[LiveServer, Api], allow_listed: dict[str, str], tenant: TenantKit,
    database: DatabaseUnderTest, api: Api, how: str,
) -> None:
    query = unique_query(f"NotListed{how.replace('-', '')}{tenant.slug.replace('-', '')}")
    query_hash = sha256_hex(query)
    if how == "client-registered-hash":
        # Registered by a client of an APQ deployment: known, but not allow-listed.
        await post(api, {"query": query, "extensions": apq(query_hash)}, tenant.admin_token)
        assert len(await stored(database, query_hash)) == 1
    bodies: dict[str, dict[str, Any]] = {
        "text": {"query": query},
        "apq-registration": {"query": query, "extensions": apq(query_hash)},
        "client-registered-hash": {"extensions": apq(query_hash)},
    }
    body = bodies[how]
    response = await post(allowlist[1], body, tenant.admin_token)
    assert code_of(response) == "PERSISTED_QUERY_NOT_ALLOWED"
    if how == "apq-registration":
        assert await stored(database, query_hash) == []


async def test_off_mode_answers_not_supported_to_a_bare_hash(
    database: DatabaseUnderTest, tenant: TenantKit,
) -> None:
    async with live_server(database.api_url, persisted_queries="off") as (_, api):
        response = await post(api, {"extensions": apq("0" * 64)}, tenant.admin_token)
        assert code_of(response) == "PERSISTED_QUERY_NOT_SUPPORTED"
