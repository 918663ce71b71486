"""The local-day functions of policies/local_days.sql, called in SQL as a tenant role: local
dates, the start of a day, its census instant, and the midnights a stay spans, in the awkward
zones, on DST nights and where midnight does not exist or comes twice."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import asyncpg
import pytest

from tests.harness import DatabaseUnderTest
from tests.local_days import (
    PERIOD_END_PARAMS,
    ZONE_PARAMS,
    census_date,
    census_instant,
    day_start,
    local,
    midnights_spanned,
)
from tests.sql_roles import as_role
from wardgraph.auth.claims import Role

MICROSECOND = timedelta(microseconds=1)
DAY = timedelta(days=1)


async def value(database: DatabaseUnderTest, sql: str, *args: Any) -> Any:
    """One value, computed in SQL as the billing role with a tenant's claims."""
    async with as_role(database.api_url, Role.BILLING, uuid.uuid4()) as connection:
        return await connection.fetchval(sql, *args)


async def rows(database: DatabaseUnderTest, sql: str, *args: Any) -> list[asyncpg.Record]:
    async with as_role(database.api_url, Role.BILLING, uuid.uuid4()) as connection:
        found: list[asyncpg.Record] = await connection.fetch(sql, *args)
        return found


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# -- the local date of an instant --------------------------------------------------------------

@pytest.mark.parametrize("period_end", PERIOD_END_PARAMS)
@pytest.mark.parametrize("zone", ZONE_PARAMS)
async def test_2330_local_lands_on_that_date_and_0030_on_the_next(
    database: DatabaseUnderTest, zone: str, period_end: date,
) -> None:
    late, early = local(period_end, 23, 30, zone), local(period_end + DAY, 0, 30, zone)
    found = await rows(database, """
        select app.local_date($1, $3) as late_local, app.census_date($1, $3) as late_day,
               app.local_date($2, $3) as early_local, app.census_date($2, $3) as early_day""",
        late, early, zone)
    assert dict(found[0]) == {"late_local": period_end, "late_day": period_end,
                              "early_local": period_end + DAY, "early_day": period_end + DAY}


async def test_dhaka_day_closes_at_1800_utc(database: DatabaseUnderTest) -> None:
    found = await rows(database, """
        select app.local_day_start('2025-01-31', 'Asia/Dhaka') as starts,
               app.census_instant('2025-01-31', 'Asia/Dhaka') as census,
               app.local_date('2025-01-31 17:59:59.999999+00', 'Asia/Dhaka') as before,
               app.local_date('2025-01-31 18:00:00+00', 'Asia/Dhaka') as after""")
    assert dict(found[0]) == {
        "starts": datetime(2025, 1, 30, 18, 0, tzinfo=UTC),
        "census": datetime(2025, 1, 31, 18, 0, tzinfo=UTC),
        "before": date(2025, 1, 31), "after": date(2025, 2, 1)}


# -- days and their census instants, against zoneinfo -----------------------------------------

async def test_a_stay_across_the_date_apia_skipped_spans_one_midnight_not_two(
    database: DatabaseUnderTest,
) -> None:
    # The clocks went from 2011-12-29 23:59:59 (-10:00) to 2011-12-31 00:00 (+14:00): the one
    # midnight of that night ends the 29th, and the 30th had none.
    zone = "Pacific/Apia"
    found = await rows(database, """
        select * from app.local_midnights('2011-12-29 22:00Z', '2011-12-30 22:00Z', $1)""",
                       zone)
    assert [(r["service_date"], r["census_at"]) for r in found] == [
        (date(2011, 12, 29), datetime(2011, 12, 30, 10, tzinfo=UTC))]
    existed = await rows(database, """
        select d::date as day, app.local_date_existed(d::date, $1) as existed
        from generate_series('2011-12-29'::date, '2011-12-31'::date, '1 day') d""", zone)
    assert [r["existed"] for r in existed] == [True, False, True]


async def test_a_stay_across_a_midnight_that_came_twice_spans_it_once(
    database: DatabaseUnderTest,
) -> None:
    # St John's, 7 November 2010: local midnight at 02:30 UTC and again at 03:30 UTC.
    zone = "America/St_Johns"
    started, ended = (datetime(2010, 11, 6, 20, tzinfo=UTC), datetime(2010, 11, 7, 20, tzinfo=UTC))
    found = await rows(database, "select * from app.local_midnights($1, $2, $3)",
                       started, ended, zone)
    assert [(r["service_date"], r["census_at"]) for r in found] == [
        (date(2010, 11, 6), datetime(2010, 11, 7, 2, 30, tzinfo=UTC))]
    assert midnights_spanned(started, ended, zone, ended) == [date(2010, 11, 6)]


@pytest.mark.parametrize("zone", [*ZONE_PARAMS,
                                  pytest.param("America/Santiago", id="America-Santiago")])
async def test_every_day_of_two_years_starts_and_closes_where_zoneinfo_says(
    database: DatabaseUnderTest, zone: str,
) -> None:
    dates = days_between(date(2024, 1, 1), date(2025, 12, 31))
    found = await rows(database, """
        select d::date as day, app.local_day_start(d::date, $3) as starts,
               app.census_instant(d::date, $3) as census
        from generate_series($1::date, $2::date, interval '1 day') d order by 1""",
        dates[0], dates[-1], zone)
    assert [(r["day"], r["starts"], r["census"]) for r in found] == [
        (d, day_start(d, zone), census_instant(d, zone)) for d in dates]


@pytest.mark.parametrize(("zone", "short_day", "long_day", "short", "long"), [
    pytest.param("America/New_York", date(2025, 3, 9), date(2025, 11, 2), 23, 25,
                 id="new-york"),
    pytest.param("Europe/London", date(2025, 3, 30), date(2025, 10, 26), 23, 25, id="london"),
    pytest.param("Australia/Lord_Howe", date(2025, 10, 5), date(2025, 4, 6), 23.5, 24.5,
                 id="lord-howe-half-hour"),
    pytest.param("Pacific/Chatham", date(2025, 9, 28), date(2025, 4, 6), 23, 25, id="chatham"),
    pytest.param("America/St_Johns", date(2025, 3, 9), date(2025, 11, 2), 23, 25,
                 id="st-johns"),
])
async def test_a_dst_day_is_still_one_day_of_23_or_25_hours(
    database: DatabaseUnderTest, zone: str, short_day: date, long_day: date, short: float,
    long: float,
) -> None:
    found = await rows(database, """
        select d, extract(epoch from app.census_instant(d, $2) - app.local_day_start(d, $2))
                  / 3600 as hours
        from unnest($1::date[]) d""", [short_day - DAY, short_day, long_day], zone)
    assert [(r["d"], float(r["hours"])) for r in found] == [
        (short_day - DAY, 24.0), (short_day, short), (long_day, long)]


# -- midnights that do not exist, come twice, or a date that never was -------------------------

@pytest.mark.parametrize(("zone", "day", "jump"), [
    pytest.param("America/Santiago", date(2022, 9, 11), datetime(2022, 9, 11, 4, tzinfo=UTC),
                 id="santiago-00-00-becomes-01-00"),
    pytest.param("Asia/Beirut", date(2010, 3, 28), datetime(2010, 3, 27, 22, tzinfo=UTC),
                 id="beirut-2010-00-00-becomes-01-00"),
])
async def test_a_midnight_the_clocks_jump_over_is_the_jump_itself(
    database: DatabaseUnderTest, zone: str, day: date, jump: datetime,
) -> None:
    found = await rows(database, """
        select app.local_day_start($1, $2) as starts,
               app.census_instant($1 - 1, $2) as census_of_day_before,
               app.local_date(app.local_day_start($1, $2), $2) as first_date,
               (app.local_day_start($1, $2) at time zone $2)::time as first_clock_reading,
               app.local_date(app.local_day_start($1, $2) - interval '1 microsecond', $2)
                   as date_just_before""", day, zone)
    assert dict(found[0]) == {
        "starts": jump, "census_of_day_before": jump, "first_date": day,
        "first_clock_reading": time(1, 0),
        "date_just_before": day - DAY}


async def test_a_midnight_that_comes_twice_starts_the_day_at_the_first(
    database: DatabaseUnderTest,
) -> None:
    # St John's until 2011: at 00:01 NDT (02:31 UTC) on 7 November 2010 clocks went back to
    # 23:01 NST on the 6th, so local midnight came at 02:30 UTC and again at 03:30 UTC.
    zone = "America/St_Johns"
    found = await rows(database, """
        select app.census_instant('2010-11-06', $1) as census,
               app.local_date('2010-11-07 03:00+00', $1) as clock_date,
               app.census_date('2010-11-07 03:00+00', $1) as day""", zone)
    assert dict(found[0]) == {"census": datetime(2010, 11, 7, 2, 30, tzinfo=UTC),
                              "clock_date": date(2010, 11, 6), "day": date(2010, 11, 7)}
    assert found[0]["census"] == census_instant(date(2010, 11, 6), zone)


async def test_a_date_the_zone_skipped_lasts_no_time(database: DatabaseUnderTest) -> None:
    # Samoa moved across the date line: 29 December 2011 was followed by the 31st.
    found = await rows(database, """
        select app.local_day_start('2011-12-30', 'Pacific/Apia') as starts,
               app.census_instant('2011-12-30', 'Pacific/Apia') as census,
               app.census_instant('2011-12-29', 'Pacific/Apia') as census_before""")
    skipped_at = datetime(2011, 12, 30, 10, tzinfo=UTC)
    assert dict(found[0]) == {"starts": skipped_at, "census": skipped_at,
                              "census_before": skipped_at}


@pytest.mark.parametrize("zone", [*ZONE_PARAMS,
                                  pytest.param("America/Santiago", id="America-Santiago")])
async def test_every_instant_belongs_to_exactly_one_day(
    database: DatabaseUnderTest, zone: str,
) -> None:
    rng = random.Random(f"tile-{zone}")
    start = datetime(2010, 1, 1, tzinfo=UTC)
    instants = [start + timedelta(seconds=rng.randrange(16 * 365 * 86400)) for _ in range(400)]
    found = await rows(database, """
        select at, app.census_date(at, $2) as day,
               app.local_day_start(app.census_date(at, $2), $2) <= at
               and at < app.census_instant(app.census_date(at, $2), $2) as inside
        from unnest($1::timestamptz[]) at""", instants, zone)
    assert all(r["inside"] for r in found)
    assert [r["day"] for r in found] == [census_date(at, zone) for at in instants]


# -- the midnights a stay spans ----------------------------------------------------------------

@pytest.mark.parametrize(("started", "ended", "expected"), [
    pytest.param(local(date(2025, 1, 10), 0, 0, "Asia/Dhaka"),
                 local(date(2025, 1, 11), 0, 0, "Asia/Dhaka"), [date(2025, 1, 10)],
                 id="admitted-at-00-00-counted-at-the-next-midnight-discharged-at-00-00-counted"),
    pytest.param(local(date(2025, 1, 10), 23, 59, "Asia/Dhaka"),
                 local(date(2025, 1, 11), 0, 1, "Asia/Dhaka"), [date(2025, 1, 10)],
                 id="two-minutes-across-midnight"),
    pytest.param(local(date(2025, 1, 10), 0, 1, "Asia/Dhaka"),
                 local(date(2025, 1, 10), 23, 59, "Asia/Dhaka"), [], id="within-one-day"),
    pytest.param(local(date(2025, 1, 10), 12, 0, "Asia/Dhaka"),
                 local(date(2025, 1, 10), 23, 59, "Asia/Dhaka")
                 + timedelta(seconds=59, microseconds=999999), [],
                 id="ends-one-microsecond-before-midnight"),
    pytest.param(local(date(2025, 1, 10), 12, 0, "Asia/Dhaka"),
                 local(date(2025, 1, 14), 12, 0, "Asia/Dhaka"),
                 [date(2025, 1, 10), date(2025, 1, 11), date(2025, 1, 12), date(2025, 1, 13)],
                 id="four-nights"),
])
async def test_a_stay_spans_the_midnights_in_started_exclusive_ended_inclusive(
    database: DatabaseUnderTest, started: datetime, ended: datetime, expected: list[date],
) -> None:
    found = await rows(database, "select * from app.local_midnights($1, $2, 'Asia/Dhaka')",
                       started, ended)
    assert [r["service_date"] for r in found] == expected
    assert [r["census_at"] for r in found] == [census_instant(d, "Asia/Dhaka")
                                                for d in expected]


async def test_a_transfer_at_midnight_leaves_that_midnight_in_exactly_one_stay(
    database: DatabaseUnderTest,
) -> None:
    zone = "Europe/London"
    admitted = local(date(2025, 3, 28), 15, 0, zone)
    moved = local(date(2025, 3, 30), 0, 0, zone)
    discharged = local(date(2025, 4, 1), 9, 0, zone)
    found = await rows(database, """
        select 'first' as stay, service_date from app.local_midnights($1, $2, $4)
        union all
        select 'second', service_date from app.local_midnights($2, $3, $4)
        order by 2""", admitted, moved, discharged, zone)
    assert [(r["stay"], r["service_date"]) for r in found] == [
        ("first", date(2025, 3, 28)), ("first", date(2025, 3, 29)),
        ("second", date(2025, 3, 30)), ("second", date(2025, 3, 31))]


@pytest.mark.parametrize(("zone", "spring", "autumn"), [
    pytest.param("America/New_York", date(2025, 3, 9), date(2025, 11, 2), id="new-york"),
    pytest.param("Europe/London", date(2025, 3, 30), date(2025, 10, 26), id="london"),
    pytest.param("Australia/Lord_Howe", date(2025, 10, 5), date(2026, 4, 5), id="lord-howe"),
])
async def test_a_stay_across_spring_forward_and_fall_back_spans_one_midnight_a_night(
    database: DatabaseUnderTest, zone: str, spring: date, autumn: date,
) -> None:
    started = local(min(spring, autumn) - 2 * DAY, 14, 0, zone)
    ended = local(max(spring, autumn) + 2 * DAY, 10, 0, zone)
    found = await rows(database, "select * from app.local_midnights($1, $2, $3)",
                       started, ended, zone)
    nights = days_between(min(spring, autumn) - 2 * DAY, max(spring, autumn) + DAY)
    assert [r["service_date"] for r in found] == nights
    assert [r["service_date"] for r in found] == midnights_spanned(started, ended, zone,
                                                                    ended)


CLOCK_READS = r"\m(now|current_timestamp|current_date|localtimestamp|clock_timestamp|" \
    r"statement_timestamp|transaction_timestamp)\M"


async def test_day_functions_never_read_the_database_clock(
    database: DatabaseUnderTest,
) -> None:
    found = await rows(database, """
        select p.proname, p.provolatile::text as volatility, p.prosrc ~* $1 as reads_clock
        from pg_catalog.pg_proc p
        where p.pronamespace = 'app'::regnamespace
          and p.proname in ('local_date', 'local_day_start', 'census_instant', 'census_date',
                            'local_midnights', 'local_date_existed', 'expected_bed_days',
                            'reconcile_bed_days', 'accrue_bed_days', 'bed_day_horizon',
                            'reconcile_bed_days_on_discharge', 'reconcile_bed_days_on_transfer',
                            'reconcile_bed_days_on_undo',
                            'daily_report')
        order by 1""", CLOCK_READS)
    assert [(r["proname"], r["volatility"], r["reads_clock"]) for r in found] == [
        ("accrue_bed_days", "v", False), ("bed_day_horizon", "s", False),
        ("census_date", "i", False), ("census_instant", "i", False),
        ("daily_report", "s", False), ("expected_bed_days", "s", False),
        ("local_date", "i", False), ("local_date_existed", "i", False),
        ("local_day_start", "i", False), ("local_midnights", "i", False),
        ("reconcile_bed_days", "v", False), ("reconcile_bed_days_on_discharge", "v", False),
        ("reconcile_bed_days_on_transfer", "v", False),
        ("reconcile_bed_days_on_undo", "v", False)]
    assert await value(database, "select 'select now()' ~* $1", CLOCK_READS)
