-- platform.rate_limit_buckets: one token bucket per caller, shared by every API process
-- (migrations/sql/0011_rate_limit_buckets.up.sql). Not readable by any request role: a bucket
-- says how busy a user is, which is nobody's business.
--
-- The API's login role (wg_api) reads no table; it takes a request from a bucket through one
-- SECURITY DEFINER function owned by wg_rate_limiter, a role that can do nothing else.
alter table platform.rate_limit_buckets enable row level security;
alter table platform.rate_limit_buckets force row level security;

grant usage on schema platform to wg_rate_limiter;
grant select, insert, update on platform.rate_limit_buckets to wg_rate_limiter;

-- The limiter keeps every caller's bucket: it runs before the request's transaction, with no
-- claims set, on behalf of whichever tenant the token named.
create policy rate_limit_buckets_limiter_reads on platform.rate_limit_buckets for select
    to wg_rate_limiter
    using (true);
create policy rate_limit_buckets_limiter_adds on platform.rate_limit_buckets for insert
    to wg_rate_limiter
    with check (true);
create policy rate_limit_buckets_limiter_takes on platform.rate_limit_buckets for update
    to wg_rate_limiter
    using (true) with check (true);

-- Takes one request from the caller's bucket: the seconds to wait before the next request, or
-- 0 when this one may go. A bucket holds up to per_minute requests (the API calls this only
-- with per_minute >= 1) and refills at per_minute/60 a second: a burst of a full minute, then
-- the steady rate. One upsert, so two processes taking from one bucket at once queue on its
-- row and never both take the last request. The refilled amount is written out twice (new
-- tokens, granted): ON CONFLICT DO UPDATE cannot name a computed value once. Every call is a
-- statement of its own, so statement_timestamp() is the moment of the request; a clock that
-- steps back refills nothing (greatest). SECURITY DEFINER because the calling login role may
-- read no table; search_path is pinned (pg_temp last) so that no object of the caller's can
-- stand in for pg_catalog's.
create or replace function auth.take_request(caller_tenant uuid, caller_key text,
                                             per_minute integer)
returns integer
language sql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
    insert into platform.rate_limit_buckets as b (tenant_id, caller, tokens, granted, updated_at)
    values (caller_tenant, caller_key, per_minute - 1, true, statement_timestamp())
    on conflict (tenant_id, caller) do update set
        tokens = least(per_minute, b.tokens + greatest(0, extract(epoch from
                     statement_timestamp() - b.updated_at)) * per_minute / 60.0)
                 - case when least(per_minute, b.tokens + greatest(0, extract(epoch from
                     statement_timestamp() - b.updated_at)) * per_minute / 60.0) >= 1
                        then 1 else 0 end,
        granted = least(per_minute, b.tokens + greatest(0, extract(epoch from
                      statement_timestamp() - b.updated_at)) * per_minute / 60.0) >= 1,
        updated_at = greatest(b.updated_at, statement_timestamp())
    returning case when b.granted then 0
                   else ceil((1 - b.tokens) * 60.0 / per_minute)::integer end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema auth to wg_rate_limiter;
alter function auth.take_request(uuid, text, integer) owner to wg_rate_limiter;
revoke create on schema auth from wg_rate_limiter;

revoke execute on function auth.take_request(uuid, text, integer) from public;
grant execute on function auth.take_request(uuid, text, integer) to wg_api;
