-- A downgrade removes what its upgrade added, data included: it is for backing a release out
-- before anything depends on it, never for a live system in use.
-- squawk-ignore-file ban-drop-function, ban-drop-table
-- The functions of policies/persisted_queries.sql read the table; they go with it.
drop function if exists auth.persisted_query(text);
drop function if exists auth.register_persisted_query(text, text);
drop table if exists platform.persisted_queries;
