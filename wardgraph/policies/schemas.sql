-- Which roles may use which schema, and the default that functions are not PUBLIC.

-- The tenant roles use app and platform; the login role may only reach the auth functions.
grant usage on schema app to wg_tenant, wg_authenticator;
grant usage on schema platform to wg_tenant, wg_authenticator;
grant usage on schema auth to wg_api;
-- app.track_admitted_facilities() runs as wg_admission_tracker (policies/admissions.sql).
grant usage on schema app to wg_admission_tracker;
-- The ledger and counter functions run as wg_ledger_writer (policies/bed_days.sql, admissions.sql).
grant usage on schema app to wg_ledger_writer;
-- app.audit_event_seqs_touching() runs as wg_audit_reader (policies/audit.sql).
grant usage on schema app to wg_audit_reader;

-- Functions are not callable by PUBLIC unless a file below grants them. The default is changed
-- for the whole database, not per schema: a per-schema default can only add to the built-in one
-- (EXECUTE for PUBLIC), so `alter default privileges in schema ... revoke` leaves every function
-- the files below create callable by PUBLIC on a fresh database.
revoke execute on all functions in schema app, platform, auth from public;
alter default privileges revoke execute on functions from public;

-- No request role may create temporary objects. A session's pg_temp schema is searched before
-- the path for tables and types unless a function names it last, so a session that could
-- create a temporary type could stand it in for one a SECURITY DEFINER body names (every such
-- function pins search_path = pg_catalog, pg_temp as well). TEMP comes from PUBLIC by default,
-- so it is revoked from PUBLIC on this database, whatever its name; the superuser keeps it.
do $temp$
begin
    execute pg_catalog.format('revoke temporary on database %I from public',
                              pg_catalog.current_database());
end
$temp$;
