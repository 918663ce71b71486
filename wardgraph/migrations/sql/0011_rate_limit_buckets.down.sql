-- A downgrade removes what its upgrade added: the buckets are a minute of state, nothing is lost.
-- squawk-ignore-file ban-drop-function, ban-drop-table
-- The function of policies/rate_limits.sql reads the table; it goes with it.
drop function if exists auth.take_request(uuid, text, integer);
drop table if exists platform.rate_limit_buckets;
