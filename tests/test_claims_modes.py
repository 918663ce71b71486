"""Claims set either way (WARDGRAPH_CLAIMS_MODE): set_config(..., true), or SET LOCAL, which
Citus propagates to its workers. Both give the transaction the same role and claims, and both
leave nothing on the connection once the transaction ends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.factories import TenantKit
from tests.harness import DatabaseUnderTest
from tests.serving import live_server
from wardgraph.auth.claims import Claims, Role
from wardgraph.config import ConfigError, Settings
from wardgraph.db.session import SET_CONFIG, SET_LOCAL, claimed_transaction, set_local_script

MODES = [pytest.param(SET_CONFIG, id="set_config"), pytest.param(SET_LOCAL, id="set_local")]

READ_CLAIMS = """
select current_user::text as role,
       current_setting('wg.role', true) as wg_role,
       current_setting('wg.tenant_id', true) as tenant_id,
       current_setting('wg.user_id', true) as user_id,
       current_setting('wg.facility_ids', true) as facility_ids,
       current_setting('wg.request_id', true) as request_id,
       current_setting('statement_timeout') as statement_timeout
"""


@pytest.fixture
async def api_connection(database: DatabaseUnderTest) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database.api_url)
    try:
        yield connection
    finally:
        await connection.close()


def nurse(tenant_id: uuid.UUID, facility: uuid.UUID) -> Claims:
    return Claims(tenant_id=tenant_id, role=Role.NURSE, user_id=uuid.uuid4(),
                  facility_ids=(facility,))


@pytest.mark.parametrize("mode", MODES)
async def test_claims_hold_inside_the_transaction(
    api_connection: asyncpg.Connection, mode: str
) -> None:
    tenant, facility = uuid.uuid4(), uuid.uuid4()
    claims = nurse(tenant, facility)
    async with claimed_transaction(api_connection, claims, "req-1", 1234, mode) as session:
        row = await session.fetchrow(READ_CLAIMS)
    assert row is not None
    assert row["role"] == "wg_nurse" and row["wg_role"] == "NURSE"
    assert row["tenant_id"] == str(tenant) and row["user_id"] == str(claims.user_id)
    assert row["facility_ids"] == "{" + str(facility) + "}"
    assert row["request_id"] == "req-1" and row["statement_timeout"] == "1234ms"


@pytest.mark.parametrize("mode", MODES)
async def test_no_claim_outlives_its_transaction(
    api_connection: asyncpg.Connection, mode: str
) -> None:
    async with claimed_transaction(api_connection, nurse(uuid.uuid4(), uuid.uuid4()), "r", 900,
                                   mode):
        pass
    row = await api_connection.fetchrow(READ_CLAIMS)
    assert row is not None
    assert row["role"] == "wg_api"
    assert not row["tenant_id"] and not row["user_id"] and not row["facility_ids"]
    assert row["statement_timeout"] != "900ms"


@pytest.mark.parametrize("mode", MODES)
async def test_claims_are_undone_with_a_rolled_back_transaction(
    api_connection: asyncpg.Connection, mode: str
) -> None:
    with pytest.raises(LookupError):
        async with claimed_transaction(api_connection, nurse(uuid.uuid4(), uuid.uuid4()), "r",
                                       900, mode):
            raise LookupError("the step failed")
    assert await api_connection.fetchval("select current_user::text") == "wg_api"
    assert not await api_connection.fetchval("select current_setting('wg.tenant_id', true)")


async def test_set_local_writes_a_quote_and_a_backslash_as_themselves(
    api_connection: asyncpg.Connection,
) -> None:
    # A request id is the client's X-Request-Id: it must arrive as sent, and never end the
    # literal it is written into.
    awkward = "a'b\\c'; reset role; --"
    async with claimed_transaction(api_connection, nurse(uuid.uuid4(), uuid.uuid4()), awkward,
                                   900, SET_LOCAL) as session:
        assert await session.fetchval("select current_setting('wg.request_id')") == awkward
        assert await session.fetchval("select current_user::text") == "wg_nurse"


def test_set_local_mode_sets_every_claim_with_set_local() -> None:
    commands = set_local_script(("wg_nurse", "NURSE", "t", "", "", "{}", "{}", "r", "5000"))
    statements = commands.split(";")
    assert statements[0] == "set local role E'wg_nurse'"
    assert all(s.startswith("set local ") for s in statements) and len(statements) == 9
    assert "set_config" not in commands


@pytest.mark.parametrize("value", ["set_config", "set_local", "SET_LOCAL"])
def test_claims_mode_setting_accepts_both_modes(value: str) -> None:
    mode = Settings.from_env({"WARDGRAPH_CLAIMS_MODE": value}).claims_mode
    assert mode == value.lower()


def test_claims_mode_setting_refuses_anything_else() -> None:
    with pytest.raises(ConfigError, match="WARDGRAPH_CLAIMS_MODE"):
        Settings.from_env({"WARDGRAPH_CLAIMS_MODE": "session"})


async def test_api_in_set_local_mode_answers_each_tenant_its_own_rows(
    database: DatabaseUnderTest, tenant: TenantKit, other_tenant: TenantKit
) -> None:
    query = "{ viewer { tenant { slug } } facilities(first: 5) { edges { node { id } } } }"
    async with live_server(database.api_url, claims_mode=SET_LOCAL) as (_, api):
        for kit in (tenant, other_tenant):
            data = await api.data(query, token=kit.admin_token)
            assert data["viewer"]["tenant"]["slug"] == kit.slug
            assert [e["node"]["id"] for e in data["facilities"]["edges"]] == [
                kit.facilities["DHK"]]
