-- Local days. Everything "per day" rolls over at the facility's local midnight, never UTC.
-- These functions take the instant and the IANA zone as arguments and never read now(), so a
-- report or a bill is a pure function of its inputs. A local day in a DST zone can be 23 or 25
-- hours long; it is still one day.

-- The local calendar date of an instant in a zone.
create or replace function app.local_date(at timestamptz, zone text) returns date
language sql immutable strict parallel safe
set search_path = pg_catalog
as $$ select (at at time zone zone)::date $$;

grant execute on function app.local_date(timestamptz, text) to wg_tenant;
