-- app.patients: demographics for every role that cares for or bills a patient; the SpO2 scale
-- (a clinical field) only for clinical roles, by column grant.
alter table app.patients enable row level security;
alter table app.patients force row level security;

-- The name keys (lower-cased names, generated) are what the patient search filters on.
grant select (tenant_id, id, facility_id, mrn, given_name, family_name, birth_date, created_at,
              family_name_key, given_name_key)
    on app.patients to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_partner;
-- The SpO2 scale is a prescription: the clinical roles read it. A partner scores what it records
-- on it through app.spo2_scale_for_recording() (policies/observations.sql), never reads it.
grant select (spo2_scale, spo2_scale_set_by, spo2_scale_set_at)
    on app.patients to wg_clinician, wg_nurse;
grant select (tenant_id, id, spo2_scale) on app.patients to wg_news2_scorer;
grant insert (tenant_id, id, facility_id, mrn, given_name, family_name, birth_date)
    on app.patients to wg_admin, wg_clinician, wg_nurse;
-- Only a clinician prescribes the SpO2 target (NEWS2 Scale 2).
grant update (spo2_scale, spo2_scale_set_by, spo2_scale_set_at) on app.patients to wg_clinician;
-- The facilities a patient was admitted to are written by app.track_admitted_facilities()
-- alone (as wg_admission_tracker): no request role inserts or updates admitted_facility_ids.
-- The function finds the patient by key, which needs SELECT on the columns it reads.
grant select (tenant_id, id, admitted_facility_ids), update (admitted_facility_ids)
    on app.patients to wg_admission_tracker;

create policy patients_same_tenant on app.patients as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy patients_admin_all on app.patients to wg_admin
    using (true) with check (true);
-- Staff see patients registered at, or ever admitted to, one of their facilities. Where a
-- patient was admitted is stored on the patient (admitted_facility_ids, kept by the trigger
-- app.track_admitted_facilities() in policies/admissions.sql), so the rule reads the row itself
-- rather than the patient's admissions.
create policy patients_facility_staff on app.patients for select
    to wg_clinician, wg_nurse, wg_billing
    using (
        facility_id = any ((select app.current_facility_ids())::uuid[])
        or admitted_facility_ids && (select app.current_facility_ids())::uuid[]);
-- Staff register patients at their own facilities only.
create policy patients_staff_register on app.patients for insert to wg_clinician, wg_nurse
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
-- A clinician changes (the SpO2 scale of) any patient they may see, wherever registered; the
-- column grant limits what can change.
create policy patients_clinician_updates on app.patients for update to wg_clinician
    using (
        facility_id = any ((select app.current_facility_ids())::uuid[])
        or admitted_facility_ids && (select app.current_facility_ids())::uuid[])
    with check (
        facility_id = any ((select app.current_facility_ids())::uuid[])
        or admitted_facility_ids && (select app.current_facility_ids())::uuid[]);
-- wg_admission_tracker runs only behind app.track_admitted_facilities(), which updates the
-- patient of the admission just written, in any tenant: the admitting role's own policies
-- decided that admission, and the superuser's seeding and maintenance set no claims.
create policy patients_tracker_reads on app.patients for select to wg_admission_tracker
    using (true);
create policy patients_tracker_updates on app.patients for update to wg_admission_tracker
    using (true) with check (true);
-- wg_news2_scorer runs only behind app.spo2_scale_for_recording() (policies/observations.sql),
-- which reads one patient's scale of the caller's own tenant.
create policy patients_news2_scorer_reads on app.patients for select to wg_news2_scorer
    using (tenant_id = (select app.current_tenant_id()));
-- Partners need the patients:read scope, and only see their token's facilities. Where a
-- patient was admitted is admissions data: a partner sees a patient registered elsewhere for
-- having been admitted to its facilities only with admissions:read as well.
create policy patients_partner_needs_scope on app.patients for select to wg_partner
    using (
        (select app.has_scope('patients:read'))
        and (facility_id = any ((select app.current_facility_ids())::uuid[])
             or ((select app.has_scope('admissions:read'))
                 and admitted_facility_ids && (select app.current_facility_ids())::uuid[])));
