-- The request's claims, set per transaction by wardgraph/db/session.py with
-- set_config(name, value, true). Every policy reads them through these functions, wrapped in
-- (select ...) so Postgres evaluates them once per statement, not once per row.
--
-- A claim that was never set reads as NULL, and one set by a finished transaction reads as '':
-- nullif(...) turns both into NULL, and a NULL tenant or facility list matches no row (fail closed).

create or replace function app.current_tenant_id() returns uuid
language sql stable parallel safe
set search_path = pg_catalog
as $$ select nullif(current_setting('wg.tenant_id', true), '')::uuid $$;

create or replace function app.current_user_id() returns uuid
language sql stable parallel safe
set search_path = pg_catalog
as $$ select nullif(current_setting('wg.user_id', true), '')::uuid $$;

create or replace function app.current_partner_token_id() returns uuid
language sql stable parallel safe
set search_path = pg_catalog
as $$ select nullif(current_setting('wg.partner_token_id', true), '')::uuid $$;

-- Facility ids as a Postgres array literal, e.g. '{0b5e...,7c1d...}'.
create or replace function app.current_facility_ids() returns uuid[]
language sql stable parallel safe
set search_path = pg_catalog
as $$ select nullif(current_setting('wg.facility_ids', true), '')::uuid[] $$;

-- Partner scopes as a Postgres array literal, e.g. '{patients:read,observations:read}'.
create or replace function app.current_scopes() returns text[]
language sql stable parallel safe
set search_path = pg_catalog
as $$ select coalesce(nullif(current_setting('wg.scopes', true), '')::text[], '{}') $$;

create or replace function app.has_scope(scope text) returns boolean
language sql stable parallel safe
set search_path = pg_catalog
as $$ select scope = any (app.current_scopes()) $$;

grant execute on function app.current_tenant_id(), app.current_user_id(),
    app.current_partner_token_id(), app.current_facility_ids(), app.current_scopes(),
    app.has_scope(text), app.is_known_time_zone(text)
    to wg_tenant, wg_authenticator;
