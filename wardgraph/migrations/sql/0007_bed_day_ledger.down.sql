-- A downgrade removes what its upgrade added, data included: it is for backing a release out
-- before anything depends on it, never for a live system in use. It rewrites app.bed_days under
-- an ACCESS EXCLUSIVE lock, as the upgrade does: see 0007_bed_day_ledger.up.sql for how to run
-- that safely.
-- squawk-ignore-file ban-drop-column, ban-drop-function, ban-drop-constraint, ban-drop-type, require-concurrent-index-deletion, constraint-missing-not-valid, disallowed-unique-constraint

-- Back to one row per admission and date. The ledger's triggers and functions come from this
-- release's policy files, which an earlier release's files do not know: drop them first. A
-- reversed charge and its reversal net to nothing, so both go; what remains is one charge per
-- (admission, date), as the earlier release expects. wg_ledger_writer is cluster-wide (other
-- databases may use it), so it stays, without any privilege or object in this database.
drop trigger if exists bed_days_append_only on app.bed_days;
drop trigger if exists bed_days_no_truncate on app.bed_days;
drop trigger if exists admissions_reconcile_bed_days on app.admissions;
drop trigger if exists bed_stays_reconcile_bed_days on app.bed_stays;
drop function if exists app.refuse_bed_day_changes();
drop function if exists app.reconcile_bed_days_on_discharge();
drop function if exists app.reconcile_bed_days_on_transfer();
drop function if exists app.reconcile_bed_days(uuid, uuid, timestamptz, timestamptz,
                                               app.bed_day_reversal_reason);
drop function if exists app.expected_bed_days(uuid, uuid, timestamptz);
drop function if exists app.accrue_bed_days(uuid, date, timestamptz);
do $owner$
begin
    if exists (select 1 from pg_catalog.pg_proc p
               join pg_catalog.pg_namespace n on n.oid = p.pronamespace
               where n.nspname = 'app' and p.proname = 'assign_admission_number') then
        execute 'alter function app.assign_admission_number() owner to ' || quote_ident(current_user);
    end if;
end
$owner$;

drop index if exists app.bed_days_first_charge_per_day;
drop index if exists app.bed_days_first_charge_per_census;
drop index if exists app.bed_days_admission_census;
alter table app.bed_days
    drop constraint bed_days_follows_a_reversal,
    drop constraint bed_days_reverses_a_charge;
delete from app.bed_days b
where b.reverses_id is not null
   or exists (select 1 from app.bed_days r
              where r.tenant_id = b.tenant_id and r.reverses_id = b.id);
alter table app.bed_days
    drop column reverses_entry,
    drop column follows_entry,
    drop column entry,
    drop column units,
    drop column reason,
    drop column follows_id,
    drop column reverses_id,
    drop column census_at,
    add constraint bed_days_once_per_admission_day unique (tenant_id, admission_id, service_date);
drop type app.bed_day_reversal_reason;

do $revoke$
begin
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'wg_ledger_writer') then
        revoke all on all tables in schema app from wg_ledger_writer;
        revoke all on all functions in schema app from wg_ledger_writer;
        revoke all on schema app from wg_ledger_writer;
    end if;
end
$revoke$;
