-- app.wards: wards and their daily bed rate.
alter table app.wards enable row level security;
alter table app.wards force row level security;

grant select on app.wards
    to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner;
grant insert, update (name, daily_rate) on app.wards to wg_admin;

create policy wards_same_tenant on app.wards as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy wards_tenant_wide on app.wards to wg_admin
    using (true) with check (true);
-- Membership limits the rows of every role but ADMIN, auditors included.
create policy wards_facility_members on app.wards for select
    to wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner
    using (facility_id = any ((select app.current_facility_ids())::uuid[]));
