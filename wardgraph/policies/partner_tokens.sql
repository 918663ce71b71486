-- app.partner_tokens and app.partner_token_facilities: scoped tokens for partners. The token
-- is shown once; only its SHA-256 is stored, and token_hash is readable by no API role.
alter table app.partner_tokens enable row level security;
alter table app.partner_tokens force row level security;
alter table app.partner_token_facilities enable row level security;
alter table app.partner_token_facilities force row level security;

grant select (tenant_id, id, name, scopes, expires_at, revoked_at, created_by, created_at)
    on app.partner_tokens to wg_admin, wg_partner;
grant insert (tenant_id, id, name, token_hash, scopes, expires_at, created_by)
    on app.partner_tokens to wg_admin;
grant update (revoked_at) on app.partner_tokens to wg_admin;
grant select on app.partner_tokens to wg_authenticator;

grant select on app.partner_token_facilities to wg_admin, wg_partner, wg_authenticator;
grant insert on app.partner_token_facilities to wg_admin;

create policy partner_tokens_same_tenant on app.partner_tokens as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy partner_tokens_admin_all on app.partner_tokens to wg_admin
    using (true) with check (true);
-- A partner sees its own token (viewer: name, scopes, expiry) and no other.
create policy partner_tokens_own_token on app.partner_tokens for select to wg_partner
    using (id = (select app.current_partner_token_id()));
-- Authentication looks a token up by hash before the tenant is known.
create policy partner_tokens_authenticator_lookup on app.partner_tokens for select
    to wg_authenticator
    using (true);

create policy partner_token_facilities_same_tenant on app.partner_token_facilities
    as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy partner_token_facilities_admin_all on app.partner_token_facilities to wg_admin
    using (true) with check (true);
create policy partner_token_facilities_own_token on app.partner_token_facilities for select
    to wg_partner
    using (token_id = (select app.current_partner_token_id()));
create policy partner_token_facilities_authenticator_lookup on app.partner_token_facilities
    for select to wg_authenticator
    using (true);

-- A live-alert subscriber holding a partner token loses its socket when the token is revoked,
-- without asking the database before every alert: each API process listens here. The payload
-- carries ids only (listeners have no tenant claim set).
create or replace function app.notify_partner_token_revoked() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if new.revoked_at is not null and old.revoked_at is null then
        perform pg_notify('wardgraph_revocations',
            json_build_object('tenantId', new.tenant_id, 'partnerTokenId', new.id)::text);
    end if;
    return null;
end
$$;
create or replace trigger partner_tokens_notify_revoked
    after update of revoked_at on app.partner_tokens
    for each row execute function app.notify_partner_token_revoked();

grant execute on function app.notify_partner_token_revoked() to wg_admin;
