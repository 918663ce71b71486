-- app.beds: beds of a ward.
alter table app.beds enable row level security;
alter table app.beds force row level security;

grant select on app.beds
    to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner;
grant insert, update (label) on app.beds to wg_admin;

create policy beds_same_tenant on app.beds as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy beds_tenant_wide on app.beds to wg_admin
    using (true) with check (true);
-- Membership limits the rows of every role but ADMIN, auditors included.
create policy beds_facility_members on app.beds for select
    to wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner
    using (facility_id = any ((select app.current_facility_ids())::uuid[]));
