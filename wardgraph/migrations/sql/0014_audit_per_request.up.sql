-- 0014 audit per request: the PHI audit trail keeps one event per request, not one per object.
--
-- A ward dashboard touched about 66 objects (beds' admissions, patients, observations) and so
-- appended 66 rows, each with four index entries and its own link of the hash chain: a
-- quarter of the request's cost. Now one row holds the request's whole answer: the operations
-- (READ, CREATE, ...), the ids of the patients touched, under a GIN index so that "who touched
-- patient X" stays one indexed query, and every object as JSON (operation, type, id, patient),
-- so nothing an auditor read before is lost. The chain links events as before, one hash each.
--
-- Existing events are migrated: the rows one request wrote (same request id, time and actor)
-- become one event, which keeps the id of its first row (a global id handed to an auditor still
-- finds it), and each tenant's chain is hashed again from the start, the chain head with it.
-- Run `wardgraph audit verify` before upgrading: this rewrite signs what it finds. It reads
-- and writes the whole trail while requests wait (no request can append meanwhile), so its
-- time grows with the trail: on a large one, run it in a maintenance window.
-- squawk-ignore-file ban-drop-table, renaming-table, renaming-object, ban-drop-function, require-concurrent-index-deletion
-- (The renamed table, and its renamed key, are dropped at the end of this same transaction,
-- which holds the table's ACCESS EXCLUSIVE lock from its first statement: dropping its
-- indexes concurrently would spare no one a wait.)
-- The trail only grows and no request role may change it, so it is rewritten in this one
-- transaction while nothing can append (the head rows are locked first, as appends lock them).
lock table app.audit_chain_heads in exclusive mode;
lock table app.audit_events in access exclusive mode;

alter table app.audit_events rename to audit_events_by_object;
alter table app.audit_events_by_object rename constraint audit_events_pkey
    to audit_events_by_object_pkey;
drop index app.audit_events_id, app.audit_events_patient, app.audit_events_actor,
    app.audit_events_time;
-- Its hash serialises the old columns; policies/audit.sql defines the new one.
drop function if exists app.audit_event_hash(bytea, uuid, bigint, timestamptz, text, text, uuid,
    text, text, text, uuid, uuid);

create table app.audit_events (
    tenant_id   uuid        not null references platform.tenants (tenant_id),
    seq         bigint      not null,
    id          uuid        not null default gen_random_uuid(),
    occurred_at timestamptz not null,
    request_id  text        not null,
    actor_type  text        not null constraint audit_events_actor_type check (actor_type in ('USER', 'PARTNER', 'SYSTEM')),
    actor_id    uuid,
    actor_role  text        not null,
    -- The distinct operations of the request, sorted.
    operations  text[]      not null constraint audit_events_operations check (operations <@ array['READ', 'CREATE', 'UPDATE', 'DELETE']),
    -- The distinct ids of the patients whose data the request read or changed, sorted.
    patient_ids uuid[]      not null,
    -- Every object: [{"operation", "objectType", "objectId", "patientId"}], in request order.
    objects     jsonb       not null constraint audit_events_objects check (jsonb_typeof(objects) = 'array'),
    prev_hash   bytea       not null,
    hash        bytea       not null,
    primary key (tenant_id, seq)
);

-- Each tenant's events again, one per request, in the order of their first row.
do $migrate$
declare
    t        uuid;
    e        record;
    n        bigint;
    previous bytea;
    linked   bytea;
begin
    for t in select distinct b.tenant_id from app.audit_events_by_object b loop
        n := 0;
        previous := decode(repeat('00', 32), 'hex');
        for e in
            select (array_agg(b.id order by b.seq))[1] as id, b.occurred_at, b.request_id,
                   b.actor_type, b.actor_id, b.actor_role,
                   array_agg(distinct b.operation order by b.operation) as operations,
                   coalesce(array_agg(distinct b.patient_id order by b.patient_id)
                            filter (where b.patient_id is not null), '{}') as patient_ids,
                   jsonb_agg(jsonb_build_object('operation', b.operation,
                                                'objectType', b.object_type,
                                                'objectId', b.object_id,
                                                'patientId', b.patient_id) order by b.seq)
                       as objects
            from app.audit_events_by_object b
            where b.tenant_id = t
            group by b.request_id, b.occurred_at, b.actor_type, b.actor_id, b.actor_role
            order by min(b.seq)
        loop
            n := n + 1;
            -- app.audit_event_hash() of policies/audit.sql, inline (it is defined after the
            -- migrations run).
            linked := sha256(previous || convert_to(concat_ws('|', t::text, n::text,
                extract(epoch from e.occurred_at)::text, e.request_id, e.actor_type,
                coalesce(e.actor_id::text, ''), e.actor_role, e.operations::text,
                e.patient_ids::text, e.objects::text), 'UTF8'));
            insert into app.audit_events (tenant_id, seq, id, occurred_at, request_id,
                actor_type, actor_id, actor_role, operations, patient_ids, objects, prev_hash,
                hash)
            values (t, n, e.id, e.occurred_at, e.request_id, e.actor_type, e.actor_id,
                e.actor_role, e.operations, e.patient_ids, e.objects, previous, linked);
            previous := linked;
        end loop;
        update app.audit_chain_heads h set seq = n, hash = previous
        where h.tenant_id = t;
    end loop;
end
$migrate$;

drop table app.audit_events_by_object;

-- node(id:) fetches an event by its id (the global id an auditor is given).
create unique index audit_events_id on app.audit_events (tenant_id, id);
-- Who touched patient X: `patient_ids @> array[X]`, through app.audit_event_seqs_touching()
-- (policies/audit.sql says why through a function).
create index audit_events_patients on app.audit_events using gin (patient_ids);
create index audit_events_actor on app.audit_events (tenant_id, actor_id, occurred_at);
create index audit_events_time on app.audit_events (tenant_id, occurred_at);
