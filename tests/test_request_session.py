"""One GraphQL operation, one transaction on one pooled connection, released at the end."""

from __future__ import annotations

from tests.factories import TenantKit
from tests.harness import Api, LiveServer
from tests.sql_roles import as_role
from wardgraph.auth.claims import Role


def connections_in_use(live_server: LiveServer) -> int:
    pool = live_server.app.state.wardgraph.pool
    return int(pool.get_size() - pool.get_idle_size())


async def test_sibling_resolvers_share_one_connection_and_release_it(
    api: Api, live_server: LiveServer, tenant: TenantKit
) -> None:
    nurse = await tenant.user(Role.NURSE)
    for _ in range(5):
        # tenant, user and facilities are resolved concurrently and each needs the database.
        await api.data("{ viewer { tenant { slug } user { email } facilities { code } } }",
                       {}, nurse)
    assert connections_in_use(live_server) == 0


async def test_claims_do_not_outlive_the_request_transaction(
    api: Api, live_server: LiveServer, tenant: TenantKit
) -> None:
    await api.data("{ facilities { edges { node { code } } } }", {}, tenant.admin_token)
    pool = live_server.app.state.wardgraph.pool
    async with pool.acquire() as connection:
        settings = await connection.fetchrow(
            "select current_user as role, current_setting('wg.tenant_id', true) as tenant")
    assert settings["role"] == "wg_api"
    assert settings["tenant"] in (None, "")


async def test_failed_mutation_writes_nothing(api: Api, tenant: TenantKit,
                                              database: object) -> None:
    # Two root fields: the first succeeds, the second fails; the whole operation is undone.
    body = await api.gql(
        """mutation {
             a: createFacility(input: {code: "OKA", name: "Fine", timezone: "UTC"}) { id }
             b: createFacility(input: {code: "BAD", name: "Bad", timezone: "Nowhere/Land"}) { id }
           }""", {}, tenant.admin_token)
    assert body["errors"][0]["extensions"]["field"] == "timezone"
    data = await api.data("{ facilities { edges { node { code } } } }", {}, tenant.admin_token)
    assert [e["node"]["code"] for e in data["facilities"]["edges"]] == ["DHK"]


async def test_claims_function_reads_null_when_no_claim_was_set(database: object) -> None:
    from tests.harness import DatabaseUnderTest

    assert isinstance(database, DatabaseUnderTest)
    async with as_role(database.api_url, Role.NURSE, None) as connection:
        assert await connection.fetchval("select app.current_tenant_id()") is None
