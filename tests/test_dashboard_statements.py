"""The ward dashboard costs a number of SQL statements bounded by the query's depth, not by the
number of beds: per-request DataLoaders fetch each level for every bed at once.

The count is what the live server reports in development in the X-SQL-Statements header: every
statement the request's connection sent, from BEGIN to COMMIT (wardgraph/db/pool.py counts them
on the connection itself).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.dashboard import DASHBOARD, Ward, occupied_ward
from tests.factories import TenantKit, make_tenant
from tests.harness import Api, DatabaseUnderTest
from wardgraph.context import STATEMENTS_HEADER

# What every request that reads sends beside its data: BEGIN, the statement that sets role and
# claims, the audit write and COMMIT.
TRANSACTION_STATEMENTS = 4
# The ward (with its facility), then its beds with their occupants: each bed's active admission,
# its patient and the patient's latest observation (db/ward_occupancy.py).
DASHBOARD_DATA_STATEMENTS = 2


@pytest.fixture(scope="module")
async def kit(api: Api, database: DatabaseUnderTest) -> TenantKit:
    kit = await make_tenant(api, database.admin_url)
    await kit.facility("DHK", "Asia/Dhaka")
    return kit


@pytest.fixture(scope="module")
async def small_ward(kit: TenantKit) -> Ward:
    return await occupied_ward(kit, 5)


@pytest.fixture(scope="module")
async def large_ward(kit: TenantKit) -> Ward:
    return await occupied_ward(kit, 50)


async def dashboard(api: Api, ward: Ward) -> tuple[int, dict[str, Any]]:
    """The statements one dashboard request sent, and its data."""
    response = await api.post(DASHBOARD, {"ward": ward.ward_id}, ward.nurse)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    return int(response.headers[STATEMENTS_HEADER]), body["data"]


async def test_dashboard_of_50_beds_sends_as_many_statements_as_of_5_beds(
    api: Api, small_ward: Ward, large_ward: Ward
) -> None:
    small, _ = await dashboard(api, small_ward)
    large, data = await dashboard(api, large_ward)
    assert len(data["ward"]["beds"]) == 50
    assert large == small


async def test_dashboard_sends_one_statement_per_level_beside_its_transaction(
    api: Api, large_ward: Ward
) -> None:
    count, _ = await dashboard(api, large_ward)
    assert count == TRANSACTION_STATEMENTS + DASHBOARD_DATA_STATEMENTS


async def test_dashboard_shows_every_bed_with_patient_and_latest_news2_breakdown(
    api: Api, large_ward: Ward
) -> None:
    _, data = await dashboard(api, large_ward)
    beds = data["ward"]["beds"]
    patients = [b["currentAdmission"]["patient"] for b in beds]
    latest = [p["latestObservation"] for p in patients]
    assert len({p["id"] for p in patients}) == 50
    # The second observation of each patient (pulse 118 scores 2) is the latest.
    assert {o["pulse"] for o in latest} == {118}
    assert all(o["news2"]["total"] == 2 for o in latest)
    assert all(len(o["news2"]["parameters"]) == 7 for o in latest)
