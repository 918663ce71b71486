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
do $roles$
declare
    r text;
begin
    foreach r in array array['wg_tenant', 'wg_admin', 'wg_clinician', 'wg_nurse', 'wg_billing',
                             'wg_auditor', 'wg_partner', 'wg_audit_writer', 'wg_authenticator',
                             'wg_reporter', 'wg_query_registry', 'wg_admission_tracker',
                             'wg_ledger_writer']
    loop
        if not exists (select 1 from pg_catalog.pg_roles where rolname = r) then
            execute format('create role %I nologin', r);
        end if;
    end loop;
    if not exists (select 1 from pg_catalog.pg_roles where rolname = 'wg_api') then
        create role wg_api login noinherit;
    end if;
end
$roles$;

grant wg_tenant to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner,
    wg_audit_writer;
-- A member, so that the same-tenant policies bind what app.daily_report() reads as well.
grant wg_tenant to wg_reporter;
grant wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner to wg_api;
