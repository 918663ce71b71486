-- A downgrade removes what its upgrade added, data included: it is for backing a release out
-- before anything depends on it, never for a live system in use.
-- squawk-ignore-file ban-drop-table, renaming-table, renaming-object, ban-drop-function, require-concurrent-index-deletion
-- (The renamed table, and its renamed key, are dropped at the end of this same transaction,
-- which holds the table's ACCESS EXCLUSIVE lock from its first statement: dropping its
-- indexes concurrently would spare no one a wait.)
-- Each event becomes one row per object again, and each tenant's chain is hashed again as the
-- earlier release hashes it. The functions of this release's policy files that read the new
-- columns go with them; the earlier release's files recreate their own.
lock table app.audit_chain_heads in exclusive mode;
lock table app.audit_events in access exclusive mode;

drop function if exists app.audit_event_seqs_touching(uuid);
drop function if exists app.audit_event_hash(bytea, uuid, bigint, timestamptz, text, text, uuid,
    text, text[], uuid[], jsonb);

alter table app.audit_events rename to audit_events_per_request;
alter table app.audit_events_per_request rename constraint audit_events_pkey
    to audit_events_per_request_pkey;
drop index app.audit_events_id, app.audit_events_patients, app.audit_events_actor,
    app.audit_events_time;

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

do $expand$
declare
    t        uuid;
    o        record;
    n        bigint;
    previous bytea;
    linked   bytea;
begin
    for t in select distinct p.tenant_id from app.audit_events_per_request p loop
        n := 0;
        previous := decode(repeat('00', 32), 'hex');
        for o in
            select case when x.position = 1 then p.id else gen_random_uuid() end as id,
                   p.occurred_at, p.request_id, p.actor_type, p.actor_id, p.actor_role,
                   x.item ->> 'operation' as operation, x.item ->> 'objectType' as object_type,
                   (x.item ->> 'objectId')::uuid as object_id,
                   (x.item ->> 'patientId')::uuid as patient_id
            from app.audit_events_per_request p
            cross join lateral jsonb_array_elements(p.objects) with ordinality
                as x(item, position)
            where p.tenant_id = t
            order by p.seq, x.position
        loop
            n := n + 1;
            -- The earlier release's app.audit_event_hash(), inline.
            linked := sha256(previous || convert_to(concat_ws('|', t::text, n::text,
                extract(epoch from o.occurred_at)::text, coalesce(o.request_id, ''),
                o.actor_type, coalesce(o.actor_id::text, ''), o.actor_role, o.operation,
                o.object_type, coalesce(o.object_id::text, ''),
                coalesce(o.patient_id::text, '')), 'UTF8'));
            insert into app.audit_events (tenant_id, seq, id, occurred_at, request_id,
                actor_type, actor_id, actor_role, operation, object_type, object_id,
                patient_id, prev_hash, hash)
            values (t, n, o.id, o.occurred_at, o.request_id, o.actor_type, o.actor_id,
                o.actor_role, o.operation, o.object_type, o.object_id, o.patient_id,
                previous, linked);
            previous := linked;
        end loop;
        update app.audit_chain_heads h set seq = n, hash = previous where h.tenant_id = t;
    end loop;
end
$expand$;

drop table app.audit_events_per_request;

create unique index audit_events_id on app.audit_events (tenant_id, id);
create index audit_events_patient on app.audit_events (tenant_id, patient_id, occurred_at);
create index audit_events_actor on app.audit_events (tenant_id, actor_id, occurred_at);
create index audit_events_time on app.audit_events (tenant_id, occurred_at);
