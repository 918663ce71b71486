-- 0004 persisted queries: GraphQL operations stored per deployment, by the SHA-256 of their
-- text, for Automatic Persisted Queries and the operator's allow-list. Not tenant data: one
-- registry serves every tenant, and a stored text says nothing about who sent it. The API
-- reaches it only through the auth.* functions of policies/persisted_queries.sql.

create table platform.persisted_queries (
    sha256       text        not null,
    query        text        not null,
    allow_listed boolean     not null default false,
    created_at   timestamptz not null default now(),
    primary key (sha256),
    constraint persisted_queries_sha256_format check (sha256 ~ '^[0-9a-f]{64}$'),
    -- The hash is the text's, whoever registers it: a client cannot park one text under
    -- another's hash (sha256() is built in since PostgreSQL 11; no pgcrypto needed).
    constraint persisted_queries_sha256_matches
        check (sha256 = encode(sha256(convert_to(query, 'UTF8')), 'hex')),
    constraint persisted_queries_query_length check (length(query) between 1 and 1000000)
);
