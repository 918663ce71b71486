-- app.audit_events: the PHI audit trail, one event per request that touched PHI: who, when,
-- which request, the operations, the patients touched and every object read or changed.
-- Append-only for every role, the API's included: no role is granted UPDATE or DELETE, and a
-- trigger refuses them even for the table's owner. Each tenant's events form a hash chain
-- (hash = sha256(prev_hash || the event's fields)), so a removed or altered row breaks the
-- chain and `wardgraph audit verify` finds it.
alter table app.audit_events enable row level security;
alter table app.audit_events force row level security;
alter table app.audit_chain_heads enable row level security;
alter table app.audit_chain_heads force row level security;

grant select on app.audit_events to wg_auditor, wg_audit_writer, wg_audit_reader;
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
-- wg_audit_reader runs only inside app.audit_event_seqs_touching(), which names the tenant
-- itself (from the claims): see there why no policy may filter its rows.
create policy audit_events_reader_looks_up on app.audit_events for select to wg_audit_reader
    using (true);

create policy audit_chain_heads_same_tenant on app.audit_chain_heads as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy audit_chain_heads_auditor_reads on app.audit_chain_heads for select to wg_auditor
    using (true);
create policy audit_chain_heads_writer on app.audit_chain_heads for all to wg_audit_writer
    using (true) with check (true);

-- The hash of one event, chained to the previous one. Fields are joined with '|' after a NULL
-- actor becomes ''; the arrays and the objects are taken as Postgres writes them as text, so
-- that no two different events serialise alike and the verifier can ask for the same text.
create or replace function app.audit_event_hash(
    prev_hash bytea, tenant_id uuid, seq bigint, occurred_at timestamptz, request_id text,
    actor_type text, actor_id uuid, actor_role text, operations text[], patient_ids uuid[],
    objects jsonb)
returns bytea
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
    select sha256(prev_hash || convert_to(concat_ws('|',
        tenant_id::text, seq::text, extract(epoch from occurred_at)::text, request_id,
        actor_type, coalesce(actor_id::text, ''), actor_role, operations::text,
        patient_ids::text, objects::text), 'UTF8'))
$$;

-- Appends the request's event to its tenant's chain. SECURITY DEFINER, owned by
-- wg_audit_writer, because no request role may insert audit rows directly: the actor, tenant and
-- request id come from the transaction's claims, so a caller cannot forge who did what. The
-- search_path is pinned so that no object of the caller's can stand in for one used here.
-- events: a JSON array of {"operation", "objectType", "objectId", "patientId"}, the objects
-- the request touched, in order; an empty array appends nothing. (The parameter keeps its name
-- from when each object was an event of its own: an upgrade cannot rename it in place.)
--
-- One row per request, whatever it touched: the operations and patient ids are drawn from the
-- objects once, here, and hashed with them.
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
    head_seq    bigint;
    head_hash   bytea;
    done        text[];
    patients    uuid[];
    linked      bytea;
begin
    if tid is null then
        raise exception 'an audit event needs a tenant claim' using errcode = '42501';
    end if;
    if jsonb_typeof(events) is distinct from 'array' or jsonb_array_length(events) = 0 then
        return;
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
    select coalesce(array_agg(distinct o.operation order by o.operation), '{}'),
           coalesce(array_agg(distinct o."patientId" order by o."patientId")
                    filter (where o."patientId" is not null), '{}')
    into done, patients
    from jsonb_to_recordset(events) as o("operation" text, "patientId" uuid);
    linked := app.audit_event_hash(head_hash, tid, head_seq + 1, occurred_at, request, kind,
                                   actor, role_name, done, patients, events);
    insert into app.audit_events (tenant_id, seq, occurred_at, request_id, actor_type, actor_id,
        actor_role, operations, patient_ids, objects, prev_hash, hash)
    values (tid, head_seq + 1, occurred_at, request, kind, actor, role_name, done, patients,
        events, head_hash, linked);
    update app.audit_chain_heads h set seq = head_seq + 1, hash = linked where h.tenant_id = tid;
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
    uuid, text, text[], uuid[], jsonb) to wg_tenant, wg_audit_writer;
grant execute on function app.record_audit_events(jsonb, timestamptz)
    to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_auditor, wg_partner;

-- "Who touched patient X": the sequence numbers of the caller's tenant's events whose patient
-- ids hold X, found through the GIN index on patient_ids. Through a function because row
-- security would refuse the index: `@>` on arrays is not LEAKPROOF, so under the restrictive
-- same-tenant policy Postgres must filter rows by the policy before it may apply `@>`, and the
-- auditor's query scanned the tenant's whole trail. SECURITY DEFINER, owned by wg_audit_reader,
-- which is not in wg_tenant and whose only policy lets every row through, so the index serves
-- the look-up; the function itself keeps it to the tenant of the transaction's claims (no claim:
-- nothing), and its callers read the events themselves under their own policies. The
-- search_path is pinned so that no object of the caller's can stand in for one used here.
create or replace function app.audit_event_seqs_touching(patient uuid)
returns bigint[]
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(array_agg(e.seq), '{}')
    from app.audit_events e
    where e.patient_ids @> array[patient] and e.tenant_id = app.current_tenant_id()
$$;
grant create on schema app to wg_audit_reader;
alter function app.audit_event_seqs_touching(uuid) owner to wg_audit_reader;
revoke create on schema app from wg_audit_reader;
grant execute on function app.audit_event_seqs_touching(uuid) to wg_auditor;
