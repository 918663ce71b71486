-- app.users and app.user_facilities: staff accounts and the facilities they work in.
-- password_hash is granted to no one for reading: only auth.login_lookup() reads it.
alter table app.users enable row level security;
alter table app.users force row level security;
alter table app.user_facilities enable row level security;
alter table app.user_facilities force row level security;

grant select (tenant_id, id, email, display_name, role, created_at) on app.users
    to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor;
grant insert (tenant_id, id, email, display_name, role, password_hash) on app.users to wg_admin;
grant update (display_name, role, password_hash) on app.users to wg_admin;
grant select (tenant_id, email, id, role, password_hash) on app.users to wg_authenticator;

grant select on app.user_facilities to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor,
    wg_authenticator;
grant insert, delete on app.user_facilities to wg_admin;

create policy users_same_tenant on app.users as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy users_tenant_wide on app.users to wg_admin
    using (true) with check (true);
-- Staff and auditors see themselves and the colleagues who share a facility with them:
-- membership limits the rows of every role but ADMIN.
create policy users_colleagues on app.users for select
    to wg_clinician, wg_nurse, wg_billing, wg_auditor
    using (
        id = (select app.current_user_id())
        or exists (
            select 1 from app.user_facilities uf
            where uf.tenant_id = users.tenant_id
              and uf.user_id = users.id
              and uf.facility_id = any ((select app.current_facility_ids())::uuid[])));
-- Login looks a user up by tenant and e-mail before any claim exists (auth.login_lookup).
create policy users_authenticator_lookup on app.users for select to wg_authenticator
    using (true);

create policy user_facilities_same_tenant on app.user_facilities as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy user_facilities_tenant_wide on app.user_facilities to wg_admin
    using (true) with check (true);
create policy user_facilities_members on app.user_facilities for select
    to wg_clinician, wg_nurse, wg_billing, wg_auditor
    using (facility_id = any ((select app.current_facility_ids())::uuid[]));
create policy user_facilities_authenticator_lookup on app.user_facilities for select
    to wg_authenticator
    using (true);
