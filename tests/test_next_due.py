"""When the next observation is due: the response chart's minimum monitoring frequency as an
interval after the last observation, in news2 and as Observation.nextDueAt over GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import TenantKit
from tests.harness import Api
from tests.observing import make_ward, record, vitals
from wardgraph.news2 import Risk, monitoring_interval

RECORDED_AT = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize(("total", "risk", "expected"), [
    pytest.param(0, Risk.LOW, timedelta(hours=12), id="news-0-12-hourly"),
    pytest.param(1, Risk.LOW, timedelta(hours=4), id="news-1-4-hourly"),
    pytest.param(4, Risk.LOW, timedelta(hours=4), id="news-4-4-hourly"),
    pytest.param(3, Risk.LOW_MEDIUM, timedelta(hours=1), id="red-score-hourly"),
    pytest.param(5, Risk.MEDIUM, timedelta(hours=1), id="news-5-hourly"),
    pytest.param(6, Risk.MEDIUM, timedelta(hours=1), id="news-6-hourly"),
    pytest.param(7, Risk.HIGH, None, id="news-7-continuous"),
    pytest.param(20, Risk.HIGH, None, id="news-20-continuous"),
])
def test_monitoring_interval_follows_the_response_chart(
        total: int, risk: Risk, expected: timedelta | None) -> None:
    assert monitoring_interval(total, risk) == expected


@pytest.mark.parametrize(("given", "expected"), [
    pytest.param(vitals(), "2025-03-01T16:00:00+00:00", id="news-0-due-in-12-hours"),
    pytest.param(vitals(pulse=95), "2025-03-01T08:00:00+00:00", id="news-1-due-in-4-hours"),
    pytest.param(vitals(spo2=91), "2025-03-01T05:00:00+00:00", id="red-score-due-in-1-hour"),
    pytest.param(vitals(respirationRate=22, pulse=111, temperature=38.5),
                 "2025-03-01T05:00:00+00:00", id="news-5-due-in-1-hour"),
    pytest.param(vitals(respirationRate=25, spo2=91, pulse=95), None,
                 id="news-7-continuous-has-no-due-time"),
])
async def test_observation_next_due_at_is_recorded_at_plus_the_interval(
        api: Api, tenant: TenantKit, given: dict[str, object], expected: str | None) -> None:
    ward = await make_ward(tenant)
    observation = await record(api, ward.nurse, ward.patient, given,
                               recordedAt=RECORDED_AT.isoformat())
    data = await api.data("query($id: ID!) { node(id: $id) { ... on Observation { nextDueAt "
                          "news2 { total } } } }", {"id": observation["id"]}, ward.nurse)
    assert data["node"]["nextDueAt"] == expected, data
