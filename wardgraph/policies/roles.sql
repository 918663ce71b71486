-- Who exists. Roles are cluster-wide; creating them is idempotent so several databases (tests,
-- staging) can share one server.
--
--   wg_api           the login role of the API. NOINHERIT: it holds no privilege of its own and
--                    can only SET ROLE to one of the roles below, once per transaction.
--   wg_admin ...     one role per user role, plus wg_partner for partner tokens.
--   wg_tenant        a group holding every role that acts inside one tenant; the restrictive
--                    "same tenant" policy on every table applies to it.
--   wg_audit_writer  owns app.record_audit_event(); the only role that can append audit events.
--   wg_authenticator owns the auth.* functions that look up a login or a partner token before
--                    any tenant is known.
--   wg_query_registry owns the auth.* functions of the persisted-query registry
--                    (deployment-wide, no tenant data).
--   wg_reporter      owns app.daily_report(), which counts a facility's day (observations
--                    included) for callers who may not read the rows it counts.
--   wg_admission_tracker owns app.track_admitted_facilities(), which adds an admission's
--                    facility to app.patients.admitted_facility_ids whoever admits.
--   wg_ledger_writer owns the functions that write the bed-day ledger (charges and reversals,
--                    derived from the stays), the accrual watermarks and the admission-number
--                    counters: the only writer of money and of gapless numbers.
--   wg_news2_scorer  owns app.spo2_scale_for_recording(), which gives whoever records vital
--                    signs the patient's SpO2 scale to score them on, without the column.
--   wg_rate_limiter  owns auth.take_request(), the rate limit's token buckets shared by every
--                    API process (no tenant data: how many requests a caller sent of late).
--   wg_audit_reader  owns app.audit_event_seqs_touching(), the auditor's indexed look-up of
--                    the events that touched a patient. Not in wg_tenant: see audit.sql.
-- The one list of wardgraph's roles, in the order the access matrix shows them: the
-- audit.policy_matrix view calls this function, and Python reads the list from this file
-- (wardgraph.policies.ROLES), so a role is added here and nowhere else.
create or replace function platform.wardgraph_roles() returns text[]
    language sql immutable
    as $fn$ select array['wg_tenant', 'wg_admin', 'wg_clinician', 'wg_nurse', 'wg_billing',
                         'wg_auditor', 'wg_partner', 'wg_audit_writer', 'wg_authenticator',
                         'wg_reporter', 'wg_query_registry', 'wg_admission_tracker',
                         'wg_news2_scorer', 'wg_ledger_writer', 'wg_rate_limiter',
                         'wg_audit_reader',
                         'wg_api']::text[] $fn$;

do $roles$
declare
    r text;
begin
    foreach r in array platform.wardgraph_roles()
    loop
        if r <> 'wg_api' and not exists (select 1 from pg_catalog.pg_roles where rolname = r) then
            execute format('create role %I nologin', r);
        end if;
    end loop;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'wg_api') then
        create role wg_api login noinherit;
    end if;
end
$roles$;

-- On PostgreSQL 16+ a role that is not a superuser may grant only roles it holds WITH ADMIN
-- OPTION; it holds them for the roles it created. When another role created them (a second
-- database on the same server), say what the superuser has to grant rather than fail below.
do $admin$
declare
    missing text;
begin
    if (select rolsuper from pg_catalog.pg_roles where rolname = current_user)
       or pg_catalog.current_setting('server_version_num')::int < 160000 then
        return;
    end if;
    select string_agg(rolname, ', ' order by rolname) into missing
    from pg_catalog.pg_roles
    where rolname = any (platform.wardgraph_roles())
      and not pg_catalog.pg_has_role(current_user, oid, 'MEMBER WITH ADMIN OPTION');
    if missing is not null then
        raise exception 'the roles % exist already and % cannot grant them', missing, current_user
            using hint = format('as a superuser, run: grant %s to %I with admin option',
                                missing, current_user);
    end if;
end
$admin$;

grant wg_tenant to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner,
    wg_audit_writer;
-- A member, so that the same-tenant policies bind what app.daily_report() reads as well.
grant wg_tenant to wg_reporter;
-- ... and those of app.spo2_scale_for_recording().
grant wg_tenant to wg_news2_scorer;
grant wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner to wg_api;

-- A migration role that is not a superuser (a managed service has none) may only give a
-- function to an owner whose rights it holds, and may only replace that function on the next
-- upgrade while it still holds them: so it becomes a member of the roles that own the
-- SECURITY DEFINER functions, and of wg_admin, which the operator's commands (`wardgraph user
-- create`) become. It gains nothing by that: it owns every table already. A superuser needs no
-- membership and gets none.
do $owners$
declare
    r text;
begin
    if (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
        return;
    end if;
    foreach r in array array['wg_audit_writer', 'wg_authenticator', 'wg_reporter',
                             'wg_query_registry', 'wg_admission_tracker', 'wg_news2_scorer',
                             'wg_ledger_writer', 'wg_rate_limiter', 'wg_audit_reader',
                             'wg_admin']
    loop
        if not pg_catalog.pg_has_role(current_user, r, 'USAGE') then
            execute format('grant %I to current_user', r);
        end if;
    end loop;
end
$owners$;
