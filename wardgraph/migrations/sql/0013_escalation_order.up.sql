-- 0013 escalation order: what live alerts need to lose nothing across a reconnect.
--
-- seq orders a tenant's escalations as they were inserted (raised_at is the observation's
-- business time and may lie in the past), so a subscriber that reconnects asks for "every
-- escalation after the last one I saw" by an index range.
--
-- raised_xact is the inserting transaction. A listener that lost its connection replays what
-- committed while it was away: rows whose transaction is not visible in the last snapshot it
-- took while connected. A sequence alone cannot say that: a transaction that took seq 5 may
-- commit after one that took seq 6 was delivered.
-- LONG EXCLUSIVE LOCK. An identity column and a volatile default rewrite app.escalations, and
-- the index is built in the same transaction (CONCURRENTLY cannot run in one): recording an
-- escalating observation waits until the migration commits, for a time that grows with the
-- number of escalations. Run it at a quiet hour with the API left running (`wardgraph migrate`
-- waits at most WARDGRAPH_MIGRATION_LOCK_TIMEOUT for the lock, then fails and can be retried);
-- time it first on a restored copy (`wardgraph migrate --sql --from 0007_bed_day_ledger`).
-- squawk-ignore-file adding-field-with-default, require-concurrent-index-creation
alter table app.escalations
    add column seq bigint generated always as identity,
    add column raised_xact xid8 not null default pg_current_xact_id();

create index escalations_tenant_seq on app.escalations (tenant_id, seq);
