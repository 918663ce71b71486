-- The peer's side of the benchmark: what PostGraphile needs to answer the same three
-- operations as wardgraph, the PostGraphile way — logic in SQL functions over the same tables,
-- under the same roles and RLS policies. Applied to the benchmark's database only; wardgraph
-- itself uses none of it.
--
--   app.observations_news2(o)   a computed column: the NEWS2 breakdown wardgraph computes in
--                               Python (wardgraph/news2.py) on every read, here in SQL
--   app.search_patients(text)   the patient search of wardgraph's db/patients.py
--   app.record_observation(...) recordObservation: score on both SpO2 scales, place the
--                               observation by the covering bed stay, write it and its
--                               escalation, as wardgraph's resolver does
--
-- Helpers live in bench_peer, which PostGraphile does not expose. {NAMES} are replaced with
-- wardgraph.news2's texts by bench/database.py.

create schema if not exists bench_peer;
grant usage on schema bench_peer to wg_tenant;

-- The seven chart 1 scores, in chart order (RCP NEWS2 2017, as wardgraph/news2.py).
create or replace function bench_peer.news2_scores(
    rr integer, spo2 integer, on_oxygen boolean, sbp integer, pulse integer,
    consciousness text, temperature numeric, scale integer)
returns integer[]
language sql immutable parallel safe
as $$
    select array[
        case when rr <= 8 then 3 when rr <= 11 then 1 when rr <= 20 then 0 when rr <= 24 then 2
             else 3 end,
        case when scale = 2 then
                 case when spo2 <= 83 then 3 when spo2 <= 85 then 2 when spo2 <= 87 then 1
                      when spo2 <= 92 or not on_oxygen then 0 when spo2 <= 94 then 1
                      when spo2 <= 96 then 2 else 3 end
             else case when spo2 <= 91 then 3 when spo2 <= 93 then 2 when spo2 <= 95 then 1
                       else 0 end end,
        case when on_oxygen then 2 else 0 end,
        case when sbp <= 90 then 3 when sbp <= 100 then 2 when sbp <= 110 then 1
             when sbp <= 219 then 0 else 3 end,
        case when pulse <= 40 then 3 when pulse <= 50 then 1 when pulse <= 90 then 0
             when pulse <= 110 then 1 when pulse <= 130 then 2 else 3 end,
        case when consciousness = 'ALERT' then 0 else 3 end,
        case when temperature <= 35.0 then 3 when temperature <= 36.0 then 1
             when temperature <= 38.0 then 0 when temperature <= 39.0 then 1 else 2 end]
$$;

create or replace function bench_peer.news2_risk(total integer, red boolean) returns text
language sql immutable parallel safe
as $$
    select case when total >= 7 then 'HIGH' when total >= 5 then 'MEDIUM'
                when red then 'LOW_MEDIUM' else 'LOW' end
$$;

create or replace function bench_peer.news2(
    rr integer, spo2 integer, on_oxygen boolean, sbp integer, pulse integer,
    consciousness text, temperature numeric, scale integer)
returns jsonb
language sql immutable parallel safe
as $$
    with scored as (
        select s, (select sum(x) from unnest(s) x)::integer as total, 3 = any (s) as red
        from bench_peer.news2_scores(rr, spo2, on_oxygen, sbp, pulse, consciousness,
                                     temperature, scale) s),
    risked as (select *, bench_peer.news2_risk(total, red) as risk from scored)
    select jsonb_build_object(
        'total', total, 'risk', risk, 'redScore', red,
        'monitoring', case risk when 'HIGH' then {MONITORING_TOTAL_7_OR_MORE}
                                when 'MEDIUM' then {MONITORING_TOTAL_5_TO_6}
                                when 'LOW_MEDIUM' then {MONITORING_RED_SCORE}
                                else case when total = 0 then {MONITORING_TOTAL_0}
                                          else {MONITORING_TOTAL_1_TO_4} end end,
        'response', case risk when 'HIGH' then {RESPONSE_TOTAL_7_OR_MORE}
                              when 'MEDIUM' then {RESPONSE_TOTAL_5_TO_6}
                              when 'LOW_MEDIUM' then {RESPONSE_RED_SCORE}
                              else case when total = 0 then {RESPONSE_TOTAL_0}
                                        else {RESPONSE_TOTAL_1_TO_4} end end,
        'parameters', jsonb_build_array(
            jsonb_build_object('name', 'respirationRate', 'value', rr::text, 'score', s[1]),
            jsonb_build_object('name', 'spo2', 'value', spo2::text, 'score', s[2]),
            jsonb_build_object('name', 'airOrOxygen',
                               'value', case when on_oxygen then 'OXYGEN' else 'AIR' end,
                               'score', s[3]),
            jsonb_build_object('name', 'systolicBp', 'value', sbp::text, 'score', s[4]),
            jsonb_build_object('name', 'pulse', 'value', pulse::text, 'score', s[5]),
            jsonb_build_object('name', 'consciousness', 'value', consciousness,
                               'score', s[6]),
            jsonb_build_object('name', 'temperature', 'value', temperature::text,
                               'score', s[7])))
    from risked
$$;

-- Observation.news2: the breakdown, scored on the scale stored with the observation.
create or replace function app.observations_news2(o app.observations) returns jsonb
language sql stable parallel safe
as $$
    select bench_peer.news2(o.respiration_rate, o.spo2, o.on_oxygen, o.systolic_bp, o.pulse,
                            o.consciousness::text, o.temperature, o.spo2_scale)
$$;

-- The end of the range of keys that start with a lower-cased prefix (keys are C-collated, so
-- no key starting with the prefix sorts after the prefix followed by the largest code point).
create or replace function bench_peer.prefix_end(text) returns text
language sql immutable parallel safe
as $$
    select lower($1) || chr(1114111)
$$;

-- Query.searchPatients: an MRN exactly, or a family or given name by prefix, case-insensitive,
-- on the stored lower-case name keys as wardgraph's statement searches them (a leakproof range
-- that the policies leave to the indexes). The columns of the row type are listed: the peer's
-- role may not read admitted_facility_ids, which PostGraphile's Patient does not show anyway.
create or replace function app.search_patients(search text) returns setof app.patients
language sql stable
as $$
    select p.tenant_id, p.id, p.facility_id, p.mrn, p.given_name, p.family_name, p.birth_date,
           p.spo2_scale, p.spo2_scale_set_by, p.spo2_scale_set_at, p.created_at,
           p.family_name_key, p.given_name_key, null::uuid[]
    from app.patients p
    where p.tenant_id = (select app.current_tenant_id())
      and (p.mrn = search
           or (p.family_name_key >= lower(search)
               and p.family_name_key < bench_peer.prefix_end(search))
           or (p.given_name_key >= lower(search)
               and p.given_name_key < bench_peer.prefix_end(search)))
    order by p.family_name, p.given_name, p.id
$$;

-- Mutation.recordObservation: one INSERT ... SELECT reads the patient (under the recorder's
-- RLS), the scale and the covering bed stay, as wardgraph's statement does; an escalating score
-- raises its escalation in the same transaction.
create or replace function app.record_observation(
    patient_id uuid, respiration_rate integer, spo2 integer, on_oxygen boolean,
    systolic_bp integer, pulse integer, consciousness app.consciousness, temperature numeric)
returns app.observations
language plpgsql volatile
as $$
declare
    one jsonb;
    two jsonb;
    recorded app.observations;
begin
    one := bench_peer.news2(record_observation.respiration_rate, record_observation.spo2,
                            record_observation.on_oxygen, record_observation.systolic_bp,
                            record_observation.pulse, record_observation.consciousness::text,
                            round(record_observation.temperature, 1), 1);
    two := bench_peer.news2(record_observation.respiration_rate, record_observation.spo2,
                            record_observation.on_oxygen, record_observation.systolic_bp,
                            record_observation.pulse, record_observation.consciousness::text,
                            round(record_observation.temperature, 1), 2);
    insert into app.observations as o (
        tenant_id, patient_id, facility_id, admission_id, ward_id, recorded_at,
        recorded_by_user, respiration_rate, spo2, on_oxygen, systolic_bp, pulse,
        consciousness, temperature, spo2_scale, news2_total, news2_risk, news2_red_score)
    select p.tenant_id, p.id, coalesce(s.facility_id, p.facility_id), s.admission_id,
           s.ward_id, now(), (select app.current_user_id()),
           record_observation.respiration_rate, record_observation.spo2,
           record_observation.on_oxygen, record_observation.systolic_bp,
           record_observation.pulse, record_observation.consciousness,
           round(record_observation.temperature, 1), p.spo2_scale,
           ((case p.spo2_scale when 2 then two else one end) ->> 'total')::smallint,
           ((case p.spo2_scale when 2 then two else one end) ->> 'risk')::app.news2_risk,
           ((case p.spo2_scale when 2 then two else one end) ->> 'redScore')::boolean
    from app.patients p
    left join lateral (
        select s.facility_id, s.admission_id, s.ward_id from app.bed_stays s
        where s.tenant_id = p.tenant_id and s.patient_id = p.id
          and tstzrange(s.started_at, s.ended_at, '[)') @> now()
        order by s.started_at desc
        limit 1) s on true
    where p.tenant_id = (select app.current_tenant_id()) and p.id = record_observation.patient_id
    returning o.* into recorded;
    if recorded.id is null then
        raise exception 'patient not found' using errcode = 'P0002';
    end if;
    if recorded.news2_red_score or recorded.news2_risk in ('MEDIUM', 'HIGH') then
        insert into app.escalations (tenant_id, observation_id, patient_id, facility_id, ward_id,
                                     news2_total, news2_risk, red_score, raised_at)
        values (recorded.tenant_id, recorded.id, recorded.patient_id, recorded.facility_id,
                recorded.ward_id, recorded.news2_total, recorded.news2_risk,
                recorded.news2_red_score, now());
    end if;
    return recorded;
end
$$;

grant execute on function bench_peer.news2_scores(integer, integer, boolean, integer, integer,
    text, numeric, integer), bench_peer.news2_risk(integer, boolean),
    bench_peer.news2(integer, integer, boolean, integer, integer, text, numeric, integer),
    bench_peer.prefix_end(text), app.observations_news2(app.observations),
    app.search_patients(text),
    app.record_observation(uuid, integer, integer, boolean, integer, integer, app.consciousness,
                           numeric)
    to wg_tenant;
