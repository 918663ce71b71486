"""Statements for facilities, wards, beds and users. One function per statement, named for
what it returns; the tenant predicate is explicit so every lookup uses a (tenant_id, ...) index,
and RLS decides visibility on top of it."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import asyncpg

from wardgraph.db.session import Session

FACILITY_COLUMNS = "tenant_id, id, code, name, timezone::text as timezone, currency, created_at"

FETCH_FACILITIES_BY_ID = f"""
select {FACILITY_COLUMNS} from app.facilities
where tenant_id = $1 and id = any($2::uuid[])
"""

# Keyset pagination by code (unique per tenant).
FETCH_FACILITIES_PAGE = f"""
select {FACILITY_COLUMNS} from app.facilities
where tenant_id = $1 and ($2::text is null or code > $2)
order by code
limit $3
"""

INSERT_FACILITY = f"""
insert into app.facilities (tenant_id, code, name, timezone, currency)
values ($1, $2, $3, $4, $5)
returning {FACILITY_COLUMNS}
"""

WARD_COLUMNS = "tenant_id, id, facility_id, name, daily_rate, created_at"

# A ward is always shown with its facility's currency: the facility comes in the same
# statement, as a record (null where it is not visible), rather than in a second round trip.
FETCH_WARDS_WITH_FACILITY_BY_ID = """
select w.tenant_id, w.id, w.facility_id, w.name, w.daily_rate, w.created_at, f as facility
from app.wards w
left join app.facilities f on f.tenant_id = w.tenant_id and f.id = w.facility_id
where w.tenant_id = $1 and w.id = any($2::uuid[])
"""

FETCH_WARDS_BY_FACILITY = f"""
select {WARD_COLUMNS} from app.wards
where tenant_id = $1 and facility_id = any($2::uuid[])
order by facility_id, name
"""

INSERT_WARD = f"""
insert into app.wards (tenant_id, facility_id, name, daily_rate)
values ($1, $2, $3, $4)
returning {WARD_COLUMNS}
"""

BED_COLUMNS = "tenant_id, id, facility_id, ward_id, label, created_at"

FETCH_BEDS_BY_ID = f"""
select {BED_COLUMNS} from app.beds where tenant_id = $1 and id = any($2::uuid[])
"""

FETCH_BEDS_BY_WARD = f"""
select {BED_COLUMNS} from app.beds
where tenant_id = $1 and ward_id = any($2::uuid[])
order by ward_id, label
"""

INSERT_BED = f"""
insert into app.beds (tenant_id, facility_id, ward_id, label)
values ($1, $2, $3, $4)
returning {BED_COLUMNS}
"""

USER_COLUMNS = "tenant_id, id, email, display_name, role::text as role, created_at"

FETCH_USERS_BY_ID = f"""
select {USER_COLUMNS} from app.users where tenant_id = $1 and id = any($2::uuid[])
"""

FETCH_USER_FACILITY_IDS = """
select user_id, facility_id from app.user_facilities
where tenant_id = $1 and user_id = any($2::uuid[])
order by user_id, facility_id
"""

INSERT_USER = f"""
insert into app.users (tenant_id, email, display_name, role, password_hash)
values ($1, $2, $3, $4::app.user_role, $5)
returning {USER_COLUMNS}
"""

INSERT_USER_FACILITIES = """
insert into app.user_facilities (tenant_id, user_id, facility_id)
select $1, $2, unnest($3::uuid[])
"""

FETCH_TENANT = "select tenant_id, slug, name from platform.tenants where tenant_id = $1"


async def fetch_facilities_by_id(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_FACILITIES_BY_ID, tenant_id, ids)


async def fetch_facilities_page(
    session: Session, tenant_id: UUID, after_code: str | None, limit: int
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_FACILITIES_PAGE, tenant_id, after_code, limit)


async def insert_facility(
    session: Session, tenant_id: UUID, code: str, name: str, timezone: str, currency: str
) -> asyncpg.Record:
    row = await session.fetchrow(INSERT_FACILITY, tenant_id, code, name, timezone, currency)
    assert row is not None
    return row


async def fetch_wards_with_facility_by_id(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    """Wards with their facility's row in `facility` (None where it is not visible)."""
    return await session.fetch(FETCH_WARDS_WITH_FACILITY_BY_ID, tenant_id, ids)


async def fetch_wards_by_facility(
    session: Session, tenant_id: UUID, facility_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_WARDS_BY_FACILITY, tenant_id, facility_ids)


async def insert_ward(
    session: Session, tenant_id: UUID, facility_id: UUID, name: str, daily_rate: Decimal
) -> asyncpg.Record:
    row = await session.fetchrow(INSERT_WARD, tenant_id, facility_id, name, daily_rate)
    assert row is not None
    return row


async def fetch_beds_by_id(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_BEDS_BY_ID, tenant_id, ids)


async def fetch_beds_by_ward(
    session: Session, tenant_id: UUID, ward_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_BEDS_BY_WARD, tenant_id, ward_ids)


async def insert_bed(
    session: Session, tenant_id: UUID, facility_id: UUID, ward_id: UUID, label: str
) -> asyncpg.Record:
    row = await session.fetchrow(INSERT_BED, tenant_id, facility_id, ward_id, label)
    assert row is not None
    return row


async def fetch_users_by_id(
    session: Session, tenant_id: UUID, ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_USERS_BY_ID, tenant_id, ids)


async def fetch_user_facility_ids(
    session: Session, tenant_id: UUID, user_ids: list[UUID]
) -> list[asyncpg.Record]:
    return await session.fetch(FETCH_USER_FACILITY_IDS, tenant_id, user_ids)


async def insert_user(
    session: Session, tenant_id: UUID, email: str, display_name: str, role: str,
    password_hash: str | None, facility_ids: list[UUID],
) -> asyncpg.Record:
    row = await session.fetchrow(INSERT_USER, tenant_id, email, display_name, role, password_hash)
    assert row is not None
    if facility_ids:
        await session.execute(INSERT_USER_FACILITIES, tenant_id, row["id"], facility_ids)
    return row


async def fetch_tenant(session: Session, tenant_id: UUID) -> asyncpg.Record | None:
    return await session.fetchrow(FETCH_TENANT, tenant_id)
