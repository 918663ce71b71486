-- A downgrade removes what its upgrade added, data included: it is for backing a release out
-- before anything depends on it, never for a live system in use.
-- It also rewrites app.patients and rebuilds its name indexes under an ACCESS EXCLUSIVE lock,
-- as the upgrade does: see 0005_patient_name_keys.up.sql for how to run that safely.
-- squawk-ignore-file ban-drop-column, require-concurrent-index-creation, require-concurrent-index-deletion
create index patients_family_name on app.patients (tenant_id, lower(family_name) text_pattern_ops);
create index patients_given_name on app.patients (tenant_id, lower(given_name) text_pattern_ops);
drop index app.patients_family_name_key;
drop index app.patients_given_name_key;
alter table app.patients drop column family_name_key, drop column given_name_key;
