"""Statements for the daily report: one call of app.daily_report() (policies/reports.sql),
which counts every row of the range in SQL as wg_reporter."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

FETCH_DAILY_REPORT = """
select service_date, census, admissions, discharges, transfers, bed_days, revenue, currency,
       observations, escalations
from app.daily_report($1, $2, $3, $4)
"""


async def fetch_daily_report(
    session: Session, facility_id: UUID, first_day: date, last_day: date, as_of: datetime
) -> list[asyncpg.Record]:
    """One row per facility-local date from first_day to last_day, in order."""
    return await session.fetch(FETCH_DAILY_REPORT, facility_id, first_day, last_day, as_of)
