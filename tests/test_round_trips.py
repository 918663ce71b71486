"""BEGIN travels with the claims, and the audit append with COMMIT, each in one round trip, only
when every value written into the SQL is provably inert; any other value is bound as a
parameter. Either way the transaction ends up with exactly the claims it was given."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from tests.factories import TenantKit
from tests.harness import DatabaseUnderTest
from wardgraph.auth.claims import Claims, Role
from wardgraph.db.audit import AuditEvent, commit_with_audit_events
from wardgraph.db.pool import CountingConnection
from wardgraph.db.session import Session, begin_with_claims, inline

CLAIMS_READ = """
select current_user::text, current_setting('wg.tenant_id'), current_setting('wg.request_id'),
       current_setting('wg.facility_ids'), current_setting('statement_timeout')
"""


@pytest.fixture
async def connection(database: DatabaseUnderTest) -> AsyncIterator[CountingConnection]:
    connection = await asyncpg.connect(database.api_url, connection_class=CountingConnection)
    try:
        yield connection
    finally:
        await connection.close()


def nurse() -> Claims:
    return Claims(tenant_id=uuid.uuid4(), role=Role.NURSE, user_id=uuid.uuid4(),
                  facility_ids=(uuid.uuid4(), uuid.uuid4()))


@pytest.mark.parametrize("value", ["it's", "back\\slash", "semi'; drop table x; --", "é",
                                   "new\nline", "$1"], ids=repr)
def test_a_value_that_could_leave_its_literal_is_never_written_into_sql(value: str) -> None:
    assert inline("select $1, $2", ("plain", value)) is None


def test_inert_values_are_written_as_literals_in_place_of_their_parameters() -> None:
    assert inline("select $2, $1", ("a-1", "{b,c}")) == "select '{b,c}', 'a-1'"


@pytest.mark.parametrize("request_id", [uuid.uuid4().hex, "quote'in-id"], ids=["inert", "quote"])
async def test_the_transaction_carries_exactly_the_given_claims(
    connection: CountingConnection, request_id: str
) -> None:
    claims = nurse()
    sent = connection.statements_sent
    await begin_with_claims(connection, claims, request_id, 1234)
    # BEGIN and the claims count as two statements however many round trips they took.
    assert connection.statements_sent - sent == 2
    row = await connection.fetchrow(CLAIMS_READ)
    await connection.execute("rollback")
    assert tuple(row) == ("wg_nurse", str(claims.tenant_id), request_id,
                          "{" + ",".join(map(str, claims.facility_ids)) + "}", "1234ms")


async def test_claims_are_transaction_local_after_the_one_round_trip(
    connection: CountingConnection,
) -> None:
    await begin_with_claims(connection, nurse(), "r1", 1000)
    await connection.execute("commit")
    assert await connection.fetchval("select current_setting('wg.tenant_id', true)") in ("", None)
    assert await connection.fetchval("select current_user::text") != "wg_nurse"


async def test_audit_events_and_commit_take_one_round_trip_and_are_stored(
    connection: CountingConnection, database: DatabaseUnderTest, tenant: TenantKit
) -> None:
    claims = Claims(tenant_id=tenant.tenant_id, role=Role.ADMIN)
    request_id = uuid.uuid4().hex
    await begin_with_claims(connection, claims, request_id, 1000)
    sent = connection.statements_sent
    events = [AuditEvent("READ", "Patient", uuid.uuid4())] * 2
    await commit_with_audit_events(Session(connection), events, datetime.now(UTC))
    assert connection.statements_sent - sent == 2  # the append and COMMIT, once each
    assert not connection.is_in_transaction()
    admin = await asyncpg.connect(database.admin_url)
    try:
        stored = await admin.fetchval(
            "select count(*) from app.audit_events where request_id = $1", request_id)
    finally:
        await admin.close()
    assert stored == 1  # the repeated event is stored once
