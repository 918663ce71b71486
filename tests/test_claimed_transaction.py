"""The one claimed transaction as a block (the CLI, subscriptions and tests use it): committed
when the block ends, undone when it raises, and inside a transaction already begun, left for that
transaction's owner to end."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.factories import TenantKit
from tests.harness import DatabaseUnderTest
from wardgraph.db import organisation
from wardgraph.db.operator import tenant_admin
from wardgraph.db.session import claimed_transaction


@pytest.fixture
async def connection(database: DatabaseUnderTest) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database.admin_url)
    try:
        yield connection
    finally:
        await connection.close()


async def facilities_coded(connection: asyncpg.Connection, tenant: TenantKit, code: str) -> int:
    count: int = await connection.fetchval(
        "select count(*) from app.facilities where tenant_id = $1 and code = $2",
        tenant.tenant_id, code)
    return count


async def test_a_claimed_block_commits_what_it_wrote_and_leaves_no_claims(
    connection: asyncpg.Connection, tenant: TenantKit
) -> None:
    code = f"K{secrets.token_hex(2).upper()}"
    async with claimed_transaction(connection, tenant_admin(tenant.tenant_id), "t", 10_000) as s:
        assert await s.fetchval("select current_user::text") == "wg_admin"
        await organisation.insert_facility(s, tenant.tenant_id, code, "Kept", "UTC", "USD")
    assert not connection.is_in_transaction()
    assert await connection.fetchval("select current_user::text") != "wg_admin"
    assert await facilities_coded(connection, tenant, code) == 1


async def test_a_claimed_block_that_raises_writes_nothing(
    connection: asyncpg.Connection, tenant: TenantKit
) -> None:
    code = f"U{secrets.token_hex(2).upper()}"
    with pytest.raises(LookupError):
        async with claimed_transaction(
            connection, tenant_admin(tenant.tenant_id), "t", 10_000
        ) as session:
            await organisation.insert_facility(
                session, tenant.tenant_id, code, "Undone", "UTC", "USD")
            raise LookupError("the operator's step failed after its first write")
    assert not connection.is_in_transaction()
    assert await facilities_coded(connection, tenant, code) == 0


async def test_a_claimed_block_inside_a_transaction_leaves_its_end_to_that_transaction(
    connection: asyncpg.Connection, tenant: TenantKit
) -> None:
    code = f"N{secrets.token_hex(2).upper()}"
    outer = connection.transaction()
    await outer.start()
    async with claimed_transaction(
        connection, tenant_admin(tenant.tenant_id), "t", 10_000
    ) as session:
        await organisation.insert_facility(session, tenant.tenant_id, code, "Nested", "UTC", "USD")
    assert connection.is_in_transaction()
    await outer.rollback()
    assert await facilities_coded(connection, tenant, code) == 0
