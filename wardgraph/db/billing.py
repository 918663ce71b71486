"""Statements for bed-day charges. The rule lives in SQL (policies/bed_days.sql): accruing a
facility is one call of app.accrue_bed_days(), set-based and idempotent, never a loop here."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

# Writes every charge of the facility up to and including `through`, as the calling role, with
# the request's clock as the census limit; refuses a `through` whose midnight is still to come.
ACCRUE_BED_DAYS = """
select charges_created, amount, currency, bed_days from app.accrue_bed_days($1, $2, $3)
"""


async def accrue_bed_days(
    session: Session, facility_id: UUID, through: date, census_limit: datetime
) -> asyncpg.Record:
    """(charges_created, amount, currency, bed_days) of one accrual run."""
    row = await session.fetchrow(ACCRUE_BED_DAYS, facility_id, through, census_limit)
    assert row is not None
    return row
