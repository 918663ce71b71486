-- Local days. Everything "per day" rolls over at the facility's local midnight, never UTC.
-- These functions take the instant and the IANA zone as arguments and never read now(), so a
-- report or a bill is a pure function of its inputs. A local day in a DST zone can be 23 or 25
-- hours long; it is still one day.
--
-- The rules, for every zone and every day:
--   * Local date D begins at the first instant whose local date is D or later
--     (app.local_day_start) and ends where D + 1 begins. The days of a zone tile time, with no
--     gap and no overlap, so every instant belongs to exactly one day (app.census_date).
--   * The midnight census of D is taken at the instant D ends (app.census_instant): the
--     midnight that closes D, which is local 00:00 of D + 1.
--   * Where clocks jump over midnight (America/Santiago and, historically, Asia/Beirut turned
--     00:00 into 01:00), local 00:00 does not exist: D + 1 begins, and the census of D is
--     taken, at the jump itself, the instant the clock reads 01:00.
--   * Where local midnight happens twice (America/St_Johns until 2011 turned 00:01 back to
--     23:01), D + 1 begins at the first one; the repeated hour after it belongs to D + 1.
--   * A date a zone skipped altogether (Pacific/Apia, 2011-12-30) lasts no time: its start and
--     its census instant are the next day's start.

-- The local calendar date of an instant in a zone: the date a wall clock there shows.
create or replace function app.local_date(at timestamptz, zone text) returns date
language sql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$ select (at at time zone zone)::date $$;

-- The first instant of a local date: local 00:00, or, where clocks jumped over midnight, the
-- jump; where midnight came twice, the first one.
create or replace function app.local_day_start(day date, zone text) returns timestamptz
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    midnight      timestamp := day::timestamp;
    -- Postgres reads a local time that does not exist with the offset from before the jump
    -- (for midnight: the jump itself), and a local time that happens twice with the later
    -- offset.
    later_reading timestamptz := midnight at time zone zone;
    day_before    timestamptz := later_reading - interval '1 day';
    -- The same midnight read with the offset in force a day earlier: the first of two
    -- midnights, if it already shows the date.
    first_reading timestamptz := (midnight - ((day_before at time zone zone)
                                              - (day_before at time zone 'UTC')))
                                 at time zone 'UTC';
begin
    if first_reading < later_reading and (first_reading at time zone zone)::date >= day then
        return first_reading;
    end if;
    return later_reading;
end
$$;

-- The midnight census instant of a local date: the instant the date ends, i.e. local 00:00
-- of the next date (see app.local_day_start for midnights that do not exist or come twice).
create or replace function app.census_instant(day date, zone text) returns timestamptz
language sql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$ select app.local_day_start(day + 1, zone) $$;

-- The local date an instant belongs to in the tiling of days: the date whose census is the
-- first one after it. The same as app.local_date(at, zone), except in a repeated hour after a
-- midnight that came twice, which already belongs to the next day.
create or replace function app.census_date(at timestamptz, zone text) returns date
language plpgsql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    clock_date date := (at at time zone zone)::date;
begin
    if app.local_day_start(clock_date + 1, zone) <= at then
        return clock_date + 1;
    end if;
    return clock_date;
end
$$;

-- The local midnights a stay spans: each local date whose census instant falls in
-- (started_at, ended_at], with that instant. A stay that begins exactly at a census instant is
-- first counted at the next one; a stay that ends exactly at one is counted at it. So when one
-- stay ends and the next begins at the same instant (a transfer), each census instant falls in
-- exactly one of them. For a stay still open, pass the instant to count up to as ended_at.
-- One row per census instant, not per calendar date: a date the zone skipped lasts no time and
-- shares its census instant with the date before it, which alone is listed (the midnight that
-- ended Pacific/Apia's 2011-12-29 is 2011-12-31 00:00 there, and 2011-12-30 had none).
create or replace function app.local_midnights(started_at timestamptz, ended_at timestamptz,
                                               zone text)
returns table (service_date date, census_at timestamptz)
language sql immutable strict parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select day.service_date, day.census_at
    from (select app.census_date(started_at, zone) as first_day,
                 app.census_date(greatest(started_at, ended_at), zone) as end_day) as span
    cross join lateral generate_series(0, span.end_day - span.first_day - 1) as step
    cross join lateral (
        select span.first_day + step as service_date,
               app.local_day_start(span.first_day + step, zone) as starts,
               app.census_instant(span.first_day + step, zone) as census_at) as day
    where day.starts < day.census_at
    order by 1
$$;

-- Whether a local date happened in a zone at all (it lasted some time): false only for a date
-- the clocks skipped, such as Pacific/Apia's 2011-12-30.
create or replace function app.local_date_existed(day date, zone text) returns boolean
language sql immutable strict parallel safe
set search_path = pg_catalog
as $$ select app.local_day_start(day, zone) < app.census_instant(day, zone) $$;

grant execute on function app.local_date(timestamptz, text),
    app.local_day_start(date, text), app.census_instant(date, text),
    app.census_date(timestamptz, text), app.local_midnights(timestamptz, timestamptz, text),
    app.local_date_existed(date, text)
    to wg_tenant, wg_ledger_writer;
