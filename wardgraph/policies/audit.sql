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
set search_path = pg_catalog
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
create or replace function app.record_audit_events(events jsonb, occurred_at timestamptz)
returns void
language plpgsql security definer
set search_path = pg_catalog
as $$
declare
    tid        uuid := app.current_tenant_id();
    partner_id uuid := app.current_partner_token_id();
    actor      uuid := coalesce(app.current_user_id(), partner_id);
    kind       text := case when partner_id is not null then 'PARTNER' else 'USER' end;
    role_name  text := coalesce(nullif(current_setting('wg.role', true), ''), 'unknown');
    request    text := coalesce(nullif(current_setting('wg.request_id', true), ''), '');
    last_seq   bigint;
    last_hash  bytea;
    event      jsonb;
begin
    if tid is null then
        raise exception 'an audit event needs a tenant claim' using errcode = '42501';
    end if;
    insert into app.audit_chain_heads (tenant_id, seq, hash)
    values (tid, 0, decode(repeat('00', 32), 'hex'))
    on conflict (tenant_id) do nothing;
    -- The head row's lock orders concurrent appends of one tenant.
    select h.seq, h.hash into last_seq, last_hash
    from app.audit_chain_heads h where h.tenant_id = tid for update;
    for event in select value from jsonb_array_elements(events) loop
        last_seq := last_seq + 1;
        insert into app.audit_events (tenant_id, seq, occurred_at, request_id, actor_type,
            actor_id, actor_role, operation, object_type, object_id, patient_id, prev_hash, hash)
        values (tid, last_seq, occurred_at, request, kind, actor, role_name,
            event->>'operation', event->>'objectType', (event->>'objectId')::uuid,
            (event->>'patientId')::uuid, last_hash,
            app.audit_event_hash(last_hash, tid, last_seq, occurred_at, request, kind, actor,
                role_name, event->>'operation', event->>'objectType',
                (event->>'objectId')::uuid, (event->>'patientId')::uuid));
        last_hash := app.audit_event_hash(last_hash, tid, last_seq, occurred_at, request, kind,
            actor, role_name, event->>'operation', event->>'objectType',
            (event->>'objectId')::uuid, (event->>'patientId')::uuid);
    end loop;
    update app.audit_chain_heads h set seq = last_seq, hash = last_hash where h.tenant_id = tid;
end
$$;
alter function app.record_audit_events(jsonb, timestamptz) owner to wg_audit_writer;

-- Refuses UPDATE, DELETE and TRUNCATE whoever asks: the trail only grows.
create or replace function app.audit_events_refuse_change() returns trigger
language plpgsql
set search_path = pg_catalog
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
