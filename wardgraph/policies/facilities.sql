-- app.facilities: a hospital's sites. Admins manage them; everyone else sees their own.
alter table app.facilities enable row level security;
alter table app.facilities force row level security;

grant select on app.facilities
    to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner;
grant insert, update (name, currency) on app.facilities to wg_admin;

-- Tenant isolation, whatever any permissive policy below allows.
create policy facilities_same_tenant on app.facilities as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
-- Admins work across the whole tenant.
create policy facilities_tenant_wide on app.facilities to wg_admin
    using (true) with check (true);
-- Staff, auditors and partners see only the facilities they belong to: membership limits the
-- rows of every role but ADMIN (the audit trail, which has no facility, is the auditor's
-- tenant-wide exception; see audit.sql).
create policy facilities_members on app.facilities for select
    to wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner
    using (id = any ((select app.current_facility_ids())::uuid[]));
