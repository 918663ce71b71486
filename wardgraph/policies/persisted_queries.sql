-- platform.persisted_queries: GraphQL operations stored by the SHA-256 of their text, for
-- Automatic Persisted Queries (clients register) and the allow-list (the operator registers,
-- with `wardgraph operations add`). Deployment-wide, not tenant data.
--
-- The API's login role (wg_api) reads no table; it reaches this one through two SECURITY
-- DEFINER functions owned by wg_query_registry, a role that can do nothing else.
alter table platform.persisted_queries enable row level security;
alter table platform.persisted_queries force row level security;

grant usage on schema platform to wg_query_registry;
grant select, insert (sha256, query) on platform.persisted_queries to wg_query_registry;

-- Only the registry reads the stored operations: no tenant role has a policy (or a grant).
create policy persisted_queries_registry_reads on platform.persisted_queries for select
    to wg_query_registry
    using (true);
-- A client's registration never allow-lists: only the operator (the migration role) does.
create policy persisted_queries_registry_registers_unlisted on platform.persisted_queries
    for insert to wg_query_registry
    with check (not allow_listed);

-- The stored text of a hash, if any. SECURITY DEFINER because the calling login role may read
-- no table; search_path is pinned so a caller's schemas cannot stand in for pg_catalog's.
create or replace function auth.persisted_query(query_hash text)
returns table (query text, allow_listed boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select p.query, p.allow_listed from platform.persisted_queries p where p.sha256 = query_hash
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema auth to wg_query_registry;
alter function auth.persisted_query(text) owner to wg_query_registry;
revoke create on schema auth from wg_query_registry;

-- Registers a text under its hash (APQ), not allow-listed; a second registration changes
-- nothing. The table's check constraint refuses a hash that is not the text's. SECURITY
-- DEFINER for the same reason as above, with the same pinned search_path.
create or replace function auth.register_persisted_query(query_hash text, query_text text)
returns void
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
    insert into platform.persisted_queries (sha256, query) values (query_hash, query_text)
    on conflict (sha256) do nothing
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema auth to wg_query_registry;
alter function auth.register_persisted_query(text, text) owner to wg_query_registry;
revoke create on schema auth from wg_query_registry;

revoke execute on function auth.persisted_query(text),
    auth.register_persisted_query(text, text) from public;
grant execute on function auth.persisted_query(text),
    auth.register_persisted_query(text, text) to wg_api;
