-- app.audit_events: the PHI audit trail. Append-only for every role, the API's included: no
-- role is granted UPDATE or DELETE, and a trigger refuses them even for the table's owner.
-- Each tenant's events form a hash chain (hash = sha256(prev_hash || the event's fields)), so a
-- removed or altered row breaks the chain and `wardgraph audit verify` finds it.
alter table app.audit_events enable row level security;
alter table app.audit_events force row level security;
alter table app.audit_chain_heads enable row level security;
alter table app.audit_chain_heads force row level security;

grant select on app.audit_events to wg_auditor, wg_audit_writer;
grant insert on app.audit_events to wg_audit_writer;
grant select, insert, update on app.audit_chain_heads to wg_audit_writer;
grant select on app.audit_chain_heads to wg_auditor;

create policy audit_events_same_tenant on app.audit_events as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
-- Auditors read their whole tenant's trail, whatever facilities they belong to: an event has no
-- facility, and access across facilities is exactly what an audit must see. No other request
-- role reads it (ADMIN neither: those whose reads are audited do not review the audit).
create policy audit_events_auditor_reads on app.audit_events for select to wg_auditor
    using (true);
create policy audit_events_writer_appends on app.audit_events for all to wg_audit_writer
    using (true) with check (true);

create policy audit_chain_heads_same_tenant on app.audit_chain_heads as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy audit_chain_heads_auditor_reads on app.audit_chain_heads for select to wg_auditor
    using (true);
create policy audit_chain_heads_writer on app.audit_chain_heads for all to wg_audit_writer
    using (true) with check (true);

-- The hash of one event, chained to the previous one. Fields are joined with '|' after NULLs
-- become '' so that no two different events serialise alike.
create or replace function app.audit_event_hash(
    prev_hash bytea, tenant_id uuid, seq bigint, occurred_at timestamptz, request_id text,
    actor_type text, actor_id uuid, actor_role text, operation text, object_type text,
    object_id uuid, patient_id uuid)
returns bytea
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select sha256(prev_hash || convert_to(concat_ws('|',
        tenant_id::text, seq::text, extract(epoch from occurred_at)::text,
        coalesce(request_id, ''), actor_type, coalesce(actor_id::text, ''), actor_role,
        operation, object_type, coalesce(object_id::text, ''), coalesce(patient_id::text, '')),
        'UTF8'))
$$;

-- Appends the request's events to its tenant's chain. SECURITY DEFINER, owned by
-- wg_audit_writer, because no request role may insert audit rows directly: the actor, tenant and
-- request id come from the transaction's claims, so a caller cannot forge who did what.
-- events: a JSON array of {"operation", "objectType", "objectId", "patientId"}.
--
-- A ward dashboard appends dozens of events in one call, so the append is set-based: the events
-- are parsed once, each hash is computed once in a loop (the chain is sequential), and every row
-- goes in with one INSERT. The loop serialises an event exactly as app.audit_event_hash() does,
-- inline: calling that function per event costs more than the hash itself. Event ids are random
-- version 4 UUIDs derived from one gen_random_uuid() per call (the first 16 bytes of sha256 of
-- it and the event's position, version and variant bits set): on a server built without
-- OpenSSL, each gen_random_uuid() opens and reads /dev/urandom, and one per row was a tenth of
-- the append's cost.
create or replace function app.record_audit_events(events jsonb, occurred_at timestamptz)
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    tid         uuid := app.current_tenant_id();
    partner_id  uuid := app.current_partner_token_id();
    actor       uuid := coalesce(app.current_user_id(), partner_id);
    kind        text := case when partner_id is not null then 'PARTNER' else 'USER' end;
    role_name   text := coalesce(nullif(current_setting('wg.role', true), ''), 'unknown');
    request     text := coalesce(nullif(current_setting('wg.request_id', true), ''), '');
    id_seed     bytea := uuid_send(gen_random_uuid());
    head_seq    bigint;
    head_hash   bytea;
    -- The serialised fields every event of the call shares, before and after its seq.
    before_seq  text;
    after_seq   text;
    operations  text[];
    types       text[];
    object_ids  uuid[];
    patient_ids uuid[];
    added       integer;
    hashes      bytea[];  -- hashes[1] is the head's, hashes[i + 1] event i's
begin
    if tid is null then
        raise exception 'an audit event needs a tenant claim' using errcode = '42501';
    end if;
    -- The head row's lock orders concurrent appends of one tenant. A tenant's first append
    -- creates the row (a concurrent first append waits on that insert, then locks the row).
    select h.seq, h.hash into head_seq, head_hash
    from app.audit_chain_heads h where h.tenant_id = tid for update;
    if not found then
        insert into app.audit_chain_heads (tenant_id, seq, hash)
        values (tid, 0, decode(repeat('00', 32), 'hex'))
        on conflict (tenant_id) do nothing;
        select h.seq, h.hash into head_seq, head_hash
        from app.audit_chain_heads h where h.tenant_id = tid for update;
    end if;
    select array_agg(e.operation order by e.n), array_agg(e.object_type order by e.n),
           array_agg(e.object_id order by e.n), array_agg(e.patient_id order by e.n)
    into operations, types, object_ids, patient_ids
    from rows from (jsonb_to_recordset(events)
            as ("operation" text, "objectType" text, "objectId" uuid, "patientId" uuid))
        with ordinality as e(operation, object_type, object_id, patient_id, n);
    added := coalesce(cardinality(operations), 0);
    before_seq := tid::text || '|';
    after_seq := concat_ws('|', '', extract(epoch from occurred_at)::text, request, kind,
        coalesce(actor::text, ''), role_name, '');
    hashes := array[head_hash];
    for i in 1..added loop
        -- app.audit_event_hash(hashes[i], tid, head_seq + i, occurred_at, request, kind, actor,
        -- role_name, operations[i], types[i], object_ids[i], patient_ids[i]), bit for bit:
        -- concat() writes a NULL id as '', as the coalesce there does.
        hashes[i + 1] := sha256(hashes[i] || convert_to(concat(before_seq, head_seq + i,
            after_seq, operations[i], '|', types[i], '|', object_ids[i], '|', patient_ids[i]),
            'UTF8'));
    end loop;
    insert into app.audit_events (id, tenant_id, seq, occurred_at, request_id, actor_type,
        actor_id, actor_role, operation, object_type, object_id, patient_id, prev_hash, hash)
    select encode(set_byte(set_byte(r, 6, (get_byte(r, 6) & 15) | 64),
                           8, (get_byte(r, 8) & 63) | 128), 'hex')::uuid,
        tid, head_seq + e.n, occurred_at, request, kind, actor, role_name,
        e.operation, e.object_type, e.object_id, e.patient_id, e.prev_hash, e.hash
    from unnest(operations, types, object_ids, patient_ids, hashes[1:added],
                hashes[2:added + 1]) with ordinality
            as e(operation, object_type, object_id, patient_id, prev_hash, hash, n),
        substring(sha256(id_seed || int8send(e.n)) from 1 for 16) as r;
    update app.audit_chain_heads h set seq = head_seq + added, hash = hashes[added + 1]
    where h.tenant_id = tid;
end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_audit_writer;
alter function app.record_audit_events(jsonb, timestamptz) owner to wg_audit_writer;
revoke create on schema app from wg_audit_writer;

-- Refuses UPDATE, DELETE and TRUNCATE whoever asks: the trail only grows.
create or replace function app.audit_events_refuse_change() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    raise exception 'audit events are append-only' using errcode = '42501';
end
$$;
create or replace trigger audit_events_append_only
    before update or delete on app.audit_events
    for each row execute function app.audit_events_refuse_change();
create or replace trigger audit_events_no_truncate
    before truncate on app.audit_events
    for each statement execute function app.audit_events_refuse_change();

grant execute on function app.audit_event_hash(bytea, uuid, bigint, timestamptz, text, text,
    uuid, text, text, text, uuid, uuid) to wg_tenant;
grant execute on function app.record_audit_events(jsonb, timestamptz)
    to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner;
