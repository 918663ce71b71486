-- platform.tenants: the operator's registry. A tenant sees its own row and nothing else;
-- tenants are created by the operator's CLI (a migration-level role), never through the API.
alter table platform.tenants enable row level security;
alter table platform.tenants force row level security;

grant select on platform.tenants to wg_tenant, wg_authenticator;

-- A tenant role sees only its own tenant.
create policy tenants_own_row on platform.tenants for select to wg_tenant
    using (tenant_id = (select app.current_tenant_id()));
-- Login resolves a slug before any tenant claim exists (auth.login_lookup).
create policy tenants_authenticator_lookup on platform.tenants for select to wg_authenticator
    using (true);
