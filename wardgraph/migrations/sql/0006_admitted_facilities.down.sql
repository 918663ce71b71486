-- A downgrade removes what its upgrade added, data included: it is for backing a release out
-- before anything depends on it, never for a live system in use.
-- squawk-ignore-file ban-drop-function, ban-drop-column
-- The trigger and its function come from the policy files of this release, which an earlier
-- release's files do not know: drop them with the column they maintain. The policies that read
-- the column were dropped before the migration ran; the earlier release's policy files, applied
-- when it migrates to its head, recreate its own. wg_admission_tracker is cluster-wide (other
-- databases may use it), so it stays, without any privilege in this database.
drop trigger if exists admissions_track_facilities on app.admissions;
drop trigger if exists admissions_track_facility_change on app.admissions;
drop function if exists app.track_admitted_facilities();
alter table app.patients drop column admitted_facility_ids;
do $revoke$
begin
    if exists (select 1 from pg_catalog.pg_roles where rolname = 'wg_admission_tracker') then
        revoke all on all tables in schema app from wg_admission_tracker;
        revoke all on schema app from wg_admission_tracker;
    end if;
end
$revoke$;
