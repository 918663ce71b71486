-- The functions of policies/persisted_queries.sql read the table; they go with it.
drop function if exists auth.persisted_query(text);
drop function if exists auth.register_persisted_query(text, text);
drop table if exists platform.persisted_queries;
