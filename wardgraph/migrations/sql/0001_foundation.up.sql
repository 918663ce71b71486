-- 0001 foundation: schemas, types, and the organisation, people and security tables.
-- Grants, RLS policies and functions live in wardgraph/policies/ and are applied after the
-- versioned migrations (see wardgraph/migrations/apply.py).

-- btree_gist lets an exclusion constraint mix equality on uuids with range overlap.
create extension if not exists btree_gist;

create schema app;       -- tenant-owned data: every table has tenant_id and RLS forced
create schema platform;  -- the operator's registry of tenants (and, later, per-deployment data)
create schema auth;      -- the two functions the login role may call before it knows a tenant

create type app.user_role as enum ('ADMIN', 'CLINICIAN', 'NURSE', 'BILLING', 'AUDITOR');

-- IANA zones as the server knows them; an unknown zone is refused by the database itself.
create function app.is_known_time_zone(zone text) returns boolean
language sql stable strict
set search_path = pg_catalog
as $$ select exists (select 1 from pg_catalog.pg_timezone_names where name = zone) $$;

-- squawk flags a domain with a constraint because changing that constraint later checks every
-- column of the domain at once. The rule (the server's own zone list) is not expected to change;
-- should it, a new domain takes its place column by column.
create domain app.iana_time_zone as text
    -- squawk-ignore ban-create-domain-with-constraint
    constraint iana_time_zone_known check (app.is_known_time_zone(value));

create table platform.tenants (
    tenant_id  uuid        primary key default gen_random_uuid(),
    slug       text        not null
        constraint tenants_slug_format check (slug ~ '^[a-z0-9][a-z0-9-]{1,62}$'),
    name       text        not null constraint tenants_name_length check (length(name) between 1 and 200),
    created_at timestamptz not null default now()
);
-- Slugs are the operator's namespace (the login form names a tenant), so unique platform-wide.
create unique index tenants_slug_key on platform.tenants (slug);

create table app.facilities (
    tenant_id  uuid               not null references platform.tenants (tenant_id),
    id         uuid               not null default gen_random_uuid(),
    code       text               not null
        constraint facilities_code_format check (code ~ '^[A-Z0-9]{2,12}$'),
    name       text               not null
        constraint facilities_name_length check (length(name) between 1 and 200),
    timezone   app.iana_time_zone not null,
    currency   text               not null default 'USD'
        constraint facilities_currency_format check (currency ~ '^[A-Z]{3}$'),
    created_at timestamptz        not null default now(),
    primary key (tenant_id, id),
    constraint facilities_code_unique unique (tenant_id, code)
);

create table app.wards (
    tenant_id   uuid          not null,
    id          uuid          not null default gen_random_uuid(),
    facility_id uuid          not null,
    name        text          not null constraint wards_name_length check (length(name) between 1 and 200),
    daily_rate  numeric(12,2) not null constraint wards_daily_rate_nonnegative check (daily_rate >= 0),
    created_at  timestamptz   not null default now(),
    primary key (tenant_id, id),
    -- Target of beds' foreign key, so a bed's facility always equals its ward's.
    constraint wards_facility_id_unique unique (tenant_id, facility_id, id),
    constraint wards_name_unique unique (tenant_id, facility_id, name),
    foreign key (tenant_id, facility_id) references app.facilities (tenant_id, id)
);

create table app.beds (
    tenant_id   uuid        not null,
    id          uuid        not null default gen_random_uuid(),
    facility_id uuid        not null,
    ward_id     uuid        not null,
    label       text        not null constraint beds_label_length check (length(label) between 1 and 50),
    created_at  timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint beds_facility_id_unique unique (tenant_id, facility_id, id),
    constraint beds_ward_id_unique unique (tenant_id, ward_id, id),
    constraint beds_label_unique unique (tenant_id, ward_id, label),
    foreign key (tenant_id, facility_id, ward_id) references app.wards (tenant_id, facility_id, id)
);
create index beds_ward on app.beds (tenant_id, ward_id, label);
-- Supports the foreign key to wards (a ward's deletion or re-keying looks its beds up).
create index beds_facility_ward on app.beds (tenant_id, facility_id, ward_id);

create table app.users (
    tenant_id     uuid          not null references platform.tenants (tenant_id),
    id            uuid          not null default gen_random_uuid(),
    email         text          not null
        constraint users_email_format check (email ~ '^[^@\s]+@[^@\s]+$' and length(email) <= 254),
    display_name  text          not null default '',
    role          app.user_role not null,
    password_hash text,
    created_at    timestamptz   not null default now(),
    primary key (tenant_id, id)
);
create unique index users_email_unique on app.users (tenant_id, lower(email));

create table app.user_facilities (
    tenant_id   uuid not null,
    user_id     uuid not null,
    facility_id uuid not null,
    primary key (tenant_id, user_id, facility_id),
    foreign key (tenant_id, user_id) references app.users (tenant_id, id) on delete cascade,
    foreign key (tenant_id, facility_id) references app.facilities (tenant_id, id)
);
create index user_facilities_facility on app.user_facilities (tenant_id, facility_id);

create table app.patients (
    tenant_id         uuid        not null,
    id                uuid        not null default gen_random_uuid(),
    facility_id       uuid        not null,  -- the registering facility
    mrn               text        not null constraint patients_mrn_format check (mrn ~ '^[A-Za-z0-9-]{1,32}$'),
    given_name        text        not null constraint patients_given_name_length check (length(given_name) between 1 and 100),
    family_name       text        not null constraint patients_family_name_length check (length(family_name) between 1 and 100),
    birth_date        date        not null,
    -- NEWS2 SpO2 scale: 1 by default, 2 for a prescribed 88-92% target (set by a clinician).
    spo2_scale        smallint    not null default 1 constraint patients_spo2_scale_valid check (spo2_scale in (1, 2)),
    spo2_scale_set_by uuid,
    spo2_scale_set_at timestamptz,
    created_at        timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint patients_mrn_unique unique (tenant_id, mrn),
    foreign key (tenant_id, facility_id) references app.facilities (tenant_id, id),
    foreign key (tenant_id, spo2_scale_set_by) references app.users (tenant_id, id)
);
create index patients_facility on app.patients (tenant_id, facility_id, family_name, given_name);
create index patients_family_name on app.patients (tenant_id, lower(family_name) text_pattern_ops);
create index patients_given_name on app.patients (tenant_id, lower(given_name) text_pattern_ops);
create index patients_spo2_scale_set_by on app.patients (tenant_id, spo2_scale_set_by);

create table app.partner_tokens (
    tenant_id  uuid        not null references platform.tenants (tenant_id),
    id         uuid        not null default gen_random_uuid(),
    name       text        not null constraint partner_tokens_name_length check (length(name) between 1 and 200),
    -- SHA-256 of the token; the token itself is shown once and never stored.
    token_hash bytea       not null constraint partner_tokens_hash_length check (length(token_hash) = 32),
    scopes     text[]      not null constraint partner_tokens_scopes_known check (
        scopes <@ array['patients:read', 'admissions:read', 'observations:read',
                        'observations:write', 'billing:read', 'reports:read']),
    expires_at timestamptz not null,
    revoked_at timestamptz,
    created_by uuid,
    created_at timestamptz not null default now(),
    primary key (tenant_id, id),
    constraint partner_tokens_hash_unique unique (tenant_id, token_hash),
    foreign key (tenant_id, created_by) references app.users (tenant_id, id)
);
-- Lookup by hash happens before the tenant is known (authentication).
create index partner_tokens_hash on app.partner_tokens (token_hash);
create index partner_tokens_created_by on app.partner_tokens (tenant_id, created_by);

create table app.partner_token_facilities (
    tenant_id   uuid not null,
    token_id    uuid not null,
    facility_id uuid not null,
    primary key (tenant_id, token_id, facility_id),
    foreign key (tenant_id, token_id) references app.partner_tokens (tenant_id, id) on delete cascade,
    foreign key (tenant_id, facility_id) references app.facilities (tenant_id, id)
);
create index partner_token_facilities_facility on app.partner_token_facilities (tenant_id, facility_id);

-- The PHI audit trail: append-only, hash-chained per tenant (see policies/audit.sql).
create table app.audit_events (
    tenant_id   uuid        not null references platform.tenants (tenant_id),
    seq         bigint      not null,
    id          uuid        not null default gen_random_uuid(),
    occurred_at timestamptz not null,
    request_id  text        not null,
    actor_type  text        not null constraint audit_events_actor_type check (actor_type in ('USER', 'PARTNER', 'SYSTEM')),
    actor_id    uuid,
    actor_role  text        not null,
    operation   text        not null constraint audit_events_operation check (operation in ('READ', 'CREATE', 'UPDATE', 'DELETE')),
    object_type text        not null,
    object_id   uuid,
    patient_id  uuid,
    prev_hash   bytea       not null,
    hash        bytea       not null,
    primary key (tenant_id, seq)
);
-- node(id:) fetches an event by its id (the global id an auditor is given).
create unique index audit_events_id on app.audit_events (tenant_id, id);
create index audit_events_patient on app.audit_events (tenant_id, patient_id, occurred_at);
create index audit_events_actor on app.audit_events (tenant_id, actor_id, occurred_at);
create index audit_events_time on app.audit_events (tenant_id, occurred_at);

-- The head of each tenant's chain; its row lock serialises appends within a tenant.
create table app.audit_chain_heads (
    tenant_id uuid   primary key references platform.tenants (tenant_id),
    seq       bigint not null,
    hash      bytea  not null
);
