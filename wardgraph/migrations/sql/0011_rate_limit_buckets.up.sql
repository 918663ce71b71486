-- 0011 rate-limit buckets: one token bucket per caller (a user, or a partner token), shared by
-- every API process, so that N workers or N replicas allow a caller the configured rate in
-- total, not N times it. policies/rate_limits.sql holds the function that takes a request
-- from a bucket; the API reaches the table through it alone.
--
-- UNLOGGED: a bucket is worth a minute of state. After a crash the table comes back empty and
-- every caller starts with a full bucket, which is what a new caller gets anyway; in return
-- the upsert of every request writes no WAL. (Unlogged tables are not replicated either: each
-- primary counts for itself, which is what a limit on the primary's work should do.)
--
-- Keyed by tenant first, like every tenant table: under Citus it is distributed by tenant_id
-- (docs/scaling.md says why in a colocation group of its own).
create unlogged table platform.rate_limit_buckets (
    tenant_id  uuid             not null,
    caller     text             not null,
    tokens     double precision not null,
    granted    boolean          not null,
    updated_at timestamptz      not null,
    primary key (tenant_id, caller),
    constraint rate_limit_buckets_caller_format check (caller ~ '^(user|partner):[0-9a-f-]{36}$')
);
