-- Authentication: the only two things the API's login role (wg_api) can do without first
-- becoming a tenant role. Both are SECURITY DEFINER, owned by wg_authenticator (which can read
-- credentials and nothing else), because the caller does not yet know its tenant.

-- The credentials of one user, for the API to verify the password (argon2) in Python.
-- Returns no row for an unknown tenant or e-mail; the API then verifies against a dummy hash so
-- both cases take the same time as a wrong password.
create or replace function auth.login_lookup(tenant_slug text, login_email text)
returns table (tenant_id uuid, user_id uuid, role app.user_role, password_hash text,
               facility_ids uuid[])
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select u.tenant_id, u.id, u.role, u.password_hash,
           coalesce(array(select uf.facility_id from app.user_facilities uf
                          where uf.tenant_id = u.tenant_id and uf.user_id = u.id
                          order by uf.facility_id), '{}')
    from platform.tenants t
    join app.users u on u.tenant_id = t.tenant_id
    where t.slug = tenant_slug and lower(u.email) = lower(login_email)
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema auth to wg_authenticator;
alter function auth.login_lookup(text, text) owner to wg_authenticator;
revoke create on schema auth from wg_authenticator;

-- The claims of a partner token, if it is neither revoked nor expired at the request's clock.
-- Checked on every request: there is no cache to outlive a revocation.
create or replace function auth.partner_token_claims(presented_hash bytea, at timestamptz)
returns table (tenant_id uuid, token_id uuid, name text, scopes text[], facility_ids uuid[],
               expires_at timestamptz)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select p.tenant_id, p.id, p.name, p.scopes,
           coalesce(array(select f.facility_id from app.partner_token_facilities f
                          where f.tenant_id = p.tenant_id and f.token_id = p.id
                          order by f.facility_id), '{}'),
           p.expires_at
    from app.partner_tokens p
    where p.token_hash = presented_hash
      and p.revoked_at is null
      and p.expires_at > at
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema auth to wg_authenticator;
alter function auth.partner_token_claims(bytea, timestamptz) owner to wg_authenticator;
revoke create on schema auth from wg_authenticator;

revoke execute on function auth.login_lookup(text, text),
    auth.partner_token_claims(bytea, timestamptz) from public;
grant execute on function auth.login_lookup(text, text),
    auth.partner_token_claims(bytea, timestamptz) to wg_api;
