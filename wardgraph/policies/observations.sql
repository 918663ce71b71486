-- app.observations and app.escalations: vital signs and the NEWS2 escalations they raise.
-- Billing and auditors are granted nothing here: no vital signs, whatever the query.
alter table app.observations enable row level security;
alter table app.observations force row level security;
alter table app.escalations enable row level security;
alter table app.escalations force row level security;

grant select on app.observations, app.escalations
    to wg_admin, wg_clinician, wg_nurse, wg_partner;
grant insert on app.observations, app.escalations to wg_clinician, wg_nurse, wg_partner;

create policy observations_same_tenant on app.observations as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy observations_admin_reads on app.observations for select to wg_admin
    using (true);
create policy observations_facility_staff on app.observations to wg_clinician, wg_nurse
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
-- Partners read vital signs only with observations:read ...
create policy observations_partner_needs_scope on app.observations for select to wg_partner
    using ((select app.has_scope('observations:read'))
           and facility_id = any ((select app.current_facility_ids())::uuid[]));
-- ... and record them only with observations:write, as themselves.
create policy observations_partner_writes_with_scope on app.observations for insert
    to wg_partner
    with check ((select app.has_scope('observations:write'))
                and facility_id = any ((select app.current_facility_ids())::uuid[])
                and recorded_by_partner = (select app.current_partner_token_id()));

create policy escalations_same_tenant on app.escalations as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy escalations_admin_reads on app.escalations for select to wg_admin
    using (true);
create policy escalations_facility_staff on app.escalations to wg_clinician, wg_nurse
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
create policy escalations_partner_needs_scope on app.escalations for select to wg_partner
    using ((select app.has_scope('observations:read'))
           and facility_id = any ((select app.current_facility_ids())::uuid[]));
create policy escalations_partner_writes_with_scope on app.escalations for insert to wg_partner
    with check ((select app.has_scope('observations:write'))
                and facility_id = any ((select app.current_facility_ids())::uuid[]));
