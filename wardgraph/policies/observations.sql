-- app.observations and app.escalations: vital signs, their NEWS2 score, and the escalations a
-- score raises. Billing and auditors are granted nothing here: no vital signs, whatever the
-- query. Nobody updates or deletes an observation: a wrong one is corrected by a new one.
alter table app.observations enable row level security;
alter table app.observations force row level security;
alter table app.escalations enable row level security;
alter table app.escalations force row level security;

grant select on app.observations, app.escalations
    to wg_admin, wg_clinician, wg_nurse, wg_partner;
-- Only the columns a recording supplies: the id and created_at come from their defaults.
grant insert (tenant_id, patient_id, facility_id, admission_id, ward_id, recorded_at,
              recorded_by_user, recorded_by_partner, respiration_rate, spo2, on_oxygen,
              systolic_bp, pulse, consciousness, temperature, spo2_scale, news2_total,
              news2_risk, news2_red_score, idempotency_key)
    on app.observations to wg_clinician, wg_nurse, wg_partner;
grant insert (tenant_id, observation_id, patient_id, facility_id, ward_id, news2_total,
              news2_risk, red_score, raised_at)
    on app.escalations to wg_clinician, wg_nurse, wg_partner;

create policy observations_same_tenant on app.observations as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy observations_admin_reads on app.observations for select to wg_admin
    using (true);
-- Clinicians and nurses read and record the vital signs of their own facilities.
create policy observations_facility_staff on app.observations to wg_clinician, wg_nurse
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
-- Partners read vital signs only with observations:read, in their token's facilities; a
-- partner recording with observations:write reads back the rows it recorded itself (the
-- mutation's answer and an idempotent retry need that), and nothing else.
create policy observations_partner_needs_scope on app.observations for select to wg_partner
    using (facility_id = any ((select app.current_facility_ids())::uuid[])
           and ((select app.has_scope('observations:read'))
                or ((select app.has_scope('observations:write'))
                    and recorded_by_partner = (select app.current_partner_token_id()))));
-- ... and record them only with observations:write.
create policy observations_partner_writes_with_scope on app.observations for insert
    to wg_partner
    with check ((select app.has_scope('observations:write'))
                and facility_id = any ((select app.current_facility_ids())::uuid[]));
-- Who recorded is whoever is asking: a user or a partner token, never someone else by name.
create policy observations_recorded_by_caller on app.observations as restrictive for insert
    to wg_clinician, wg_nurse, wg_partner
    with check (recorded_by_user is not distinct from (select app.current_user_id())
                and recorded_by_partner
                    is not distinct from (select app.current_partner_token_id()));
-- Only for a patient the recorder can see: the foreign key is checked without RLS, so on its
-- own it would accept the id of a patient registered and admitted elsewhere.
create policy observations_patient_visible on app.observations as restrictive for insert
    to wg_clinician, wg_nurse, wg_partner
    with check (exists (select 1 from app.patients p
                        where p.tenant_id = observations.tenant_id
                          and p.id = observations.patient_id));

-- The SpO2 scale a recording is scored on. SECURITY DEFINER, owned by wg_news2_scorer: the
-- scale column is granted to the clinical roles only (policies/patients.sql), yet a partner
-- recording with observations:write must score on the patient's scale; this gives it the
-- scale of one patient, only to a caller recording (a partner without observations:write gets
-- NULL), and only in the caller's tenant (wg_news2_scorer is a member of wg_tenant). The
-- search_path is pinned to pg_catalog, pg_temp so a caller's temporary objects are searched
-- last and can stand in for nothing the body names.
create or replace function app.spo2_scale_for_recording(patient_tenant uuid, patient uuid)
returns smallint
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select p.spo2_scale from app.patients p
    where p.tenant_id = patient_tenant and p.id = patient
      and (app.current_partner_token_id() is null or app.has_scope('observations:write'))
$$;
-- A new owner needs CREATE on the schema (a migration role that is not a superuser holds it
-- only for this statement).
grant create on schema app to wg_news2_scorer;
alter function app.spo2_scale_for_recording(uuid, uuid) owner to wg_news2_scorer;
revoke create on schema app from wg_news2_scorer;
grant execute on function app.spo2_scale_for_recording(uuid, uuid)
    to wg_clinician, wg_nurse, wg_partner;

create policy escalations_same_tenant on app.escalations as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy escalations_admin_reads on app.escalations for select to wg_admin
    using (true);
create policy escalations_facility_staff on app.escalations to wg_clinician, wg_nurse
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
create policy escalations_partner_needs_scope on app.escalations for select to wg_partner
    using ((select app.has_scope('observations:read'))
           and facility_id = any ((select app.current_facility_ids())::uuid[]));
create policy escalations_partner_writes_with_scope on app.escalations for insert to wg_partner
    with check ((select app.has_scope('observations:write'))
                and facility_id = any ((select app.current_facility_ids())::uuid[]));
-- An escalation repeats an escalating observation the caller recorded itself: nobody raises
-- an alarm for someone else's observation, or one NEWS2 does not escalate, or with other numbers.
create policy escalations_match_own_observation on app.escalations as restrictive
    for insert to wg_clinician, wg_nurse, wg_partner
    with check (exists (
        select 1 from app.observations o
        where o.tenant_id = escalations.tenant_id and o.id = escalations.observation_id
          and o.recorded_by_user is not distinct from (select app.current_user_id())
          and o.recorded_by_partner
              is not distinct from (select app.current_partner_token_id())
          and (o.news2_risk in ('MEDIUM', 'HIGH') or o.news2_red_score)
          and o.news2_total = escalations.news2_total
          and o.news2_risk = escalations.news2_risk
          and o.news2_red_score = escalations.red_score
          and o.ward_id is not distinct from escalations.ward_id));

-- Live alerts: listeners hear of each escalation at commit. NOTIFY payloads reach listeners
-- with no tenant claim set, so the payload carries ids only, never PHI; a listener re-reads the
-- escalation under its own subscriber's RLS. Payload: {"tenantId": ..., "escalationId": ...}.
create or replace function app.notify_escalation() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    perform pg_notify('wardgraph_escalations',
        json_build_object('tenantId', new.tenant_id, 'escalationId', new.id)::text);
    return null;
end
$$;
create or replace trigger escalations_notify
    after insert on app.escalations
    for each row execute function app.notify_escalation();

grant execute on function app.notify_escalation() to wg_clinician, wg_nurse, wg_partner;

-- Live alerts are read once per group of subscribers whose claims are alike (the same rows pass
-- their policies), yet each person who receives one has had PHI disclosed to them: one audit
-- event per person, in one call per group. Each event is appended by app.record_audit_events,
-- whose actor comes from the claims, so each person's user or partner token id and request id
-- are set for their own append, and the group's claims are put back at the end. Not SECURITY
-- DEFINER: it runs as the group's role and sets only claims the API sets for every request.
create or replace function app.record_alert_disclosures(
    escalation_id uuid, patient_id uuid, user_ids uuid[], partner_token_ids uuid[],
    request_ids text[], occurred_at timestamptz)
returns integer
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    events     jsonb := jsonb_build_array(jsonb_build_object(
        'operation', 'READ', 'objectType', 'Escalation',
        'objectId', escalation_id, 'patientId', patient_id));
    own_user    text := current_setting('wg.user_id', true);
    own_partner text := current_setting('wg.partner_token_id', true);
    own_request text := current_setting('wg.request_id', true);
    n           integer := coalesce(cardinality(request_ids), 0);
begin
    for i in 1..n loop
        perform set_config('wg.user_id', coalesce(user_ids[i]::text, ''), true),
                set_config('wg.partner_token_id', coalesce(partner_token_ids[i]::text, ''), true),
                set_config('wg.request_id', coalesce(request_ids[i], ''), true);
        perform app.record_audit_events(events, occurred_at);
    end loop;
    perform set_config('wg.user_id', coalesce(own_user, ''), true),
            set_config('wg.partner_token_id', coalesce(own_partner, ''), true),
            set_config('wg.request_id', coalesce(own_request, ''), true);
    return n;
end
$$;
revoke execute on function app.record_alert_disclosures(uuid, uuid, uuid[], uuid[], text[],
    timestamptz) from public;
grant execute on function app.record_alert_disclosures(uuid, uuid, uuid[], uuid[], text[],
    timestamptz) to wg_admin, wg_clinician, wg_nurse, wg_partner;
