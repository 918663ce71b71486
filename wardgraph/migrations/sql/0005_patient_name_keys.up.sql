-- 0005 patient name keys: the lower-cased family and given names, stored, in byte order
-- (collation "C"), for the patient search. Prefix search becomes a range on a key, which an
-- index serves under row level security too: lower() and LIKE are not leakproof, so Postgres
-- may not run them ahead of the policies and the expression indexes of 0001 went unused for
-- every request role; the comparison operators of text are leakproof. The keys are lower() of
-- the names in the names' own collation, as those indexes were.

-- LONG EXCLUSIVE LOCK. A stored generated column rewrites app.patients, and the indexes are built
-- in the same transaction (CONCURRENTLY cannot run in one): every request that touches patients
-- waits until the migration commits, for a time that grows with the number of patients. How to
-- run it safely on a large table: at a quiet hour, with the API left running (`wardgraph
-- migrate` waits at most WARDGRAPH_MIGRATION_LOCK_TIMEOUT for the lock, then fails and can be
-- retried); time it first on a restored copy (`wardgraph migrate --sql --from
-- 0004_persisted_queries` prints exactly what runs).
-- squawk-ignore-file adding-field-with-default, require-concurrent-index-creation, require-concurrent-index-deletion
alter table app.patients
    add column family_name_key text collate "C" generated always as (lower(family_name)) stored,
    add column given_name_key  text collate "C" generated always as (lower(given_name)) stored;

create index patients_family_name_key on app.patients (tenant_id, family_name_key);
create index patients_given_name_key on app.patients (tenant_id, given_name_key);

-- Replaced by the key indexes: nothing else searches lower(name).
drop index app.patients_family_name;
drop index app.patients_given_name;
