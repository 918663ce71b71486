-- app.bed_days: bed-day charges. Billing reads and accrues them; clinical roles may only add
-- the final charges when they discharge a patient, never read them.
alter table app.bed_days enable row level security;
alter table app.bed_days force row level security;

grant select on app.bed_days to wg_admin, wg_billing, wg_partner;
grant insert on app.bed_days to wg_admin, wg_billing, wg_clinician, wg_nurse;

create policy bed_days_same_tenant on app.bed_days as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy bed_days_admin_all on app.bed_days to wg_admin
    using (true) with check (true);
create policy bed_days_billing_facility on app.bed_days to wg_billing
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
-- Discharge finalises a stay's charges in the discharging transaction.
create policy bed_days_discharge_finalises on app.bed_days for insert to wg_clinician, wg_nurse
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
create policy bed_days_partner_needs_scope on app.bed_days for select to wg_partner
    using ((select app.has_scope('billing:read'))
           and facility_id = any ((select app.current_facility_ids())::uuid[]));
