create index patients_family_name on app.patients (tenant_id, lower(family_name) text_pattern_ops);
create index patients_given_name on app.patients (tenant_id, lower(given_name) text_pattern_ops);
drop index app.patients_family_name_key;
drop index app.patients_given_name_key;
alter table app.patients drop column family_name_key, drop column given_name_key;
