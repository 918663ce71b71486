-- The request's claims, set per transaction by wardgraph/db/session.py with
-- set_config(name, value, true). Every policy reads them through these functions, wrapped in
-- (select ...) so Postgres evaluates them once per statement, not once per row.
--
-- A claim that was never set reads as NULL, and one set by a finished transaction reads as '':
-- nullif(...) turns both into NULL, and a NULL tenant or facility list matches no row (fail closed).
--
-- These functions carry no SET search_path, unlike every other function here: Postgres never
-- inlines a SQL function with a SET clause, and calling one saves and restores the setting each
-- time. Every policy of every statement reads them, and called rather than inlined they were
-- most of what the policies cost (a third of a patient search's time in the database). Their
-- bodies name pg_catalog's functions and types explicitly; for operators, pg_catalog is always
-- searched before any schema of the path, no request role may create objects in a schema, and
-- pg_temp is never searched for functions or operators.

create or replace function app.current_tenant_id() returns uuid
language sql stable parallel safe
as $$ select nullif(pg_catalog.current_setting('wg.tenant_id', true), '')::pg_catalog.uuid $$;

create or replace function app.current_user_id() returns uuid
language sql stable parallel safe
as $$ select nullif(pg_catalog.current_setting('wg.user_id', true), '')::pg_catalog.uuid $$;

create or replace function app.current_partner_token_id() returns uuid
language sql stable parallel safe
as $$ select nullif(pg_catalog.current_setting('wg.partner_token_id', true), '')::pg_catalog.uuid
$$;

-- Facility ids as a Postgres array literal, e.g. '{0b5e...,7c1d...}'.
create or replace function app.current_facility_ids() returns uuid[]
language sql stable parallel safe
as $$ select nullif(pg_catalog.current_setting('wg.facility_ids', true), '')::pg_catalog.uuid[]
$$;

-- Partner scopes as a Postgres array literal, e.g. '{patients:read,observations:read}'.
create or replace function app.current_scopes() returns text[]
language sql stable parallel safe
as $$
    select coalesce(nullif(pg_catalog.current_setting('wg.scopes', true), '')::pg_catalog.text[],
                    '{}')
$$;

create or replace function app.has_scope(scope text) returns boolean
language sql stable parallel safe
as $$ select scope = any (app.current_scopes()) $$;

grant execute on function app.current_tenant_id(), app.current_user_id(),
    app.current_partner_token_id(), app.current_facility_ids(), app.current_scopes(),
    app.has_scope(text), app.is_known_time_zone(text)
    to wg_tenant, wg_authenticator, wg_ledger_writer;
-- app.audit_event_seqs_touching() keeps its look-up to the caller's tenant (policies/audit.sql).
grant execute on function app.current_tenant_id() to wg_audit_reader;
