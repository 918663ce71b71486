-- app.admissions, app.bed_stays and app.admission_counters: who is in which bed, and the
-- gapless per-facility-year admission numbers. The race-proof rules (one active admission per
-- bed and per patient, no overlapping stays) are constraints in the 0002 migration; this file
-- says who may touch the rows, and holds the triggers that number admissions and prove that an
-- admission's stays cover it.
alter table app.admissions enable row level security;
alter table app.admissions force row level security;
alter table app.bed_stays enable row level security;
alter table app.bed_stays force row level security;
alter table app.admission_counters enable row level security;
alter table app.admission_counters force row level security;

-- Auditors get nothing here: who lies in which bed is PHI.
grant select on app.admissions, app.bed_stays
    to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_partner;
-- Only the columns an admission starts with: the number comes from the trigger, the status
-- from its default, so nobody inserts a ready-made discharge or picks a number.
grant insert (tenant_id, facility_id, patient_id, bed_id, admitted_at, admitted_by)
    on app.admissions to wg_admin, wg_clinician, wg_nurse;
grant update (bed_id, discharged_at, status, discharged_by) on app.admissions
    to wg_admin, wg_clinician, wg_nurse;
grant insert (tenant_id, admission_id, facility_id, patient_id, ward_id, bed_id, started_at)
    on app.bed_stays to wg_admin, wg_clinician, wg_nurse;
grant update (ended_at) on app.bed_stays to wg_admin, wg_clinician, wg_nurse;
-- No request role touches the counters, not even to read them: a counter written by hand
-- could skip or repeat numbers. Only the numbering trigger below writes them, as
-- wg_ledger_writer.
grant select, insert, update on app.admission_counters to wg_ledger_writer;

-- app.patient_is_visible() asked "can the caller see this patient" for the admissions and
-- observations policies, as a function because the patients policies read app.admissions and
-- a subquery would have made the policies recursive. They read the patient's own row now
-- (admitted_facility_ids), so the policies below ask with a subquery, planned with the
-- statement instead of called per row with its own search_path.
drop function if exists app.patient_is_visible(uuid, uuid);

create policy admissions_same_tenant on app.admissions as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy admissions_admin_all on app.admissions to wg_admin
    using (true) with check (true);
-- Staff see and change admissions of their own facilities only.
create policy admissions_facility_staff on app.admissions
    to wg_clinician, wg_nurse, wg_billing
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
create policy admissions_partner_needs_scope on app.admissions for select to wg_partner
    using ((select app.has_scope('admissions:read'))
           and facility_id = any ((select app.current_facility_ids())::uuid[]));
-- Staff admit only a patient they can see: the foreign key is checked without RLS, so on its
-- own it would accept the id of a patient registered at a facility they do not work in.
create policy admissions_patient_visible on app.admissions as restrictive for insert
    to wg_clinician, wg_nurse
    with check (exists (select 1 from app.patients p
                        where p.tenant_id = admissions.tenant_id
                          and p.id = admissions.patient_id));
-- Who admitted and who discharged is whoever is asking: the columns cannot name someone else.
create policy admissions_admitted_by_caller on app.admissions as restrictive for insert
    to wg_admin, wg_clinician, wg_nurse
    with check (admitted_by is not distinct from (select app.current_user_id()));
create policy admissions_discharged_by_caller on app.admissions as restrictive for update
    to wg_admin, wg_clinician, wg_nurse
    using (true)
    with check (discharged_by is null or discharged_by = (select app.current_user_id()));
-- A discharged admission is history: staff neither move it, re-open it nor discharge it again.
-- An administrator may re-open one (undoDischarge); the trigger admissions_history_is_closed
-- below refuses every other change to a discharged admission, whoever makes it.
create policy admissions_history_is_closed on app.admissions as restrictive for update
    to wg_clinician, wg_nurse
    using (status = 'ACTIVE') with check (true);

create policy bed_stays_same_tenant on app.bed_stays as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy bed_stays_admin_all on app.bed_stays to wg_admin
    using (true) with check (true);
create policy bed_stays_facility_staff on app.bed_stays
    to wg_clinician, wg_nurse, wg_billing
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
create policy bed_stays_partner_needs_scope on app.bed_stays for select to wg_partner
    using ((select app.has_scope('admissions:read'))
           and facility_id = any ((select app.current_facility_ids())::uuid[]));
-- A stay that has ended is history: only the open stay may be closed.
create policy bed_stays_history_is_closed on app.bed_stays as restrictive for update
    to wg_clinician, wg_nurse
    using (ended_at is null) with check (true);
-- An administrator may also re-open the stay that ended at its admission's discharge
-- (undoDischarge); no earlier stay, and nothing of an admission still in hospital.
create policy bed_stays_admin_reopens_the_last on app.bed_stays as restrictive for update
    to wg_admin
    using (ended_at is null
           or exists (select 1 from app.admissions a
                      where a.tenant_id = bed_stays.tenant_id and a.id = bed_stays.admission_id
                        and a.status = 'DISCHARGED' and a.discharged_at = bed_stays.ended_at))
    with check (true);

-- The numbering trigger counts for the admission being inserted, whoever inserts it (the
-- admitting role's own policies decide whether that admission may be written at all).
create policy admission_counters_ledger_writer on app.admission_counters
    to wg_ledger_writer using (true) with check (true);

-- Numbers an admission <CODE>-<YYYY>-<NNNNNN>, YYYY being the facility-local year of admission.
-- The counter row is upserted in the admitting transaction: its lock serialises concurrent
-- admissions of one facility-year, and a rollback returns the number (gapless, unlike a sequence):
-- an admission refused afterwards (by a policy or a constraint) burns no number.
-- SECURITY DEFINER, owned by wg_ledger_writer: no request role holds any privilege on the
-- counters, so this trigger is the only way a number is taken. search_path pins pg_catalog and
-- pg_temp (last), so nothing a caller creates stands in for a catalog object. An admission for
-- a tenant other than the caller's claim is refused before its tenant's counter is touched.
create or replace function app.assign_admission_number() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    facility_code text;
    facility_zone text;
    local_year    integer;
    next_number   integer;
begin
    select f.code, f.timezone into facility_code, facility_zone
    from app.facilities f where f.tenant_id = new.tenant_id and f.id = new.facility_id;
    if not found or new.tenant_id is distinct from
                    coalesce(app.current_tenant_id(), new.tenant_id) then
        raise exception 'facility not found' using errcode = '23503',
            constraint = 'admissions_facility_visible';
    end if;
    local_year := extract(year from app.local_date(new.admitted_at, facility_zone))::integer;
    insert into app.admission_counters as c (tenant_id, facility_id, year, last_number)
    values (new.tenant_id, new.facility_id, local_year, 1)
    on conflict (tenant_id, facility_id, year)
        do update set last_number = c.last_number + 1
    returning c.last_number into next_number;
    new.number := facility_code || '-' || local_year::text || '-'
        || lpad(next_number::text, greatest(6, length(next_number::text)), '0');
    return new;
end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_ledger_writer;
alter function app.assign_admission_number() owner to wg_ledger_writer;
revoke create on schema app from wg_ledger_writer;
create or replace trigger admissions_number
    before insert on app.admissions
    for each row execute function app.assign_admission_number();

grant execute on function app.assign_admission_number()
    to wg_admin, wg_clinician, wg_nurse, wg_ledger_writer;

-- A discharged admission changes only by being re-opened whole: back to ACTIVE, with no
-- discharge time or discharger, in the same bed, facility and patient, under the same number.
-- A trigger rather than a policy because the rule compares the row before and after (a policy
-- sees one or the other), and it holds for every writer, the table's owner included, since a
-- discharge moved or edited in place would leave charges its reconciliation never saw.
create or replace function app.refuse_discharged_admission_changes() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if new.status = 'ACTIVE' and new.discharged_at is null and new.discharged_by is null
       and (new.tenant_id, new.id, new.facility_id, new.patient_id, new.bed_id, new.number,
            new.admitted_at, new.admitted_by)
           is not distinct from (old.tenant_id, old.id, old.facility_id, old.patient_id,
                                 old.bed_id, old.number, old.admitted_at, old.admitted_by) then
        return new;
    end if;
    raise exception 'a discharged admission is history: it may only be re-opened whole'
        using errcode = '42501', constraint = 'admissions_history_is_closed';
end
$$;
create or replace trigger admissions_history_is_closed
    before update on app.admissions
    for each row when (old.status = 'DISCHARGED')
    execute function app.refuse_discharged_admission_changes();

grant execute on function app.refuse_discharged_admission_changes()
    to wg_admin, wg_clinician, wg_nurse;

-- At commit, an admission's stays must tile its time in hospital: the first begins at
-- admission, each next one exactly where the previous ended, and the last is in the admission's
-- current bed and ends at discharge (open while the admission is active). So there is no moment
-- when a patient holds two beds or none, whatever a transaction did on the way. Deferred,
-- because an admission and its first stay are two rows written one after the other.
create or replace function app.check_admission_stays() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    target_tenant    uuid := new.tenant_id;
    target_admission uuid;
    admission        record;
    stay             record;
    expected_start   timestamptz;
    last_bed         uuid;
    covered          boolean := false;
begin
    -- The row's fields are resolved at run time: name each table's column in its own branch.
    if tg_table_name = 'admissions' then
        target_admission := new.id;
    else
        target_admission := new.admission_id;
    end if;
    select a.admitted_at, a.discharged_at, a.bed_id into admission
    from app.admissions a where a.tenant_id = target_tenant and a.id = target_admission;
    if found then
        covered := true;
        expected_start := admission.admitted_at;
        for stay in
            select s.bed_id, s.started_at, s.ended_at from app.bed_stays s
            where s.tenant_id = target_tenant and s.admission_id = target_admission
            order by s.started_at
        loop
            if stay.started_at is distinct from expected_start then
                covered := false;
            end if;
            expected_start := stay.ended_at;
            last_bed := stay.bed_id;
        end loop;
        covered := covered and last_bed is not null and last_bed = admission.bed_id
            and expected_start is not distinct from admission.discharged_at;
    end if;
    if not covered then
        raise exception 'the bed stays of admission % do not cover it', target_admission
            using errcode = '23514', constraint = 'bed_stays_cover_admission';
    end if;
    return null;
end
$$;
drop trigger if exists admissions_stays_cover on app.admissions;
create constraint trigger admissions_stays_cover
    after insert or update on app.admissions
    deferrable initially deferred
    for each row execute function app.check_admission_stays();
drop trigger if exists bed_stays_cover_admission on app.bed_stays;
create constraint trigger bed_stays_cover_admission
    after insert or update on app.bed_stays
    deferrable initially deferred
    for each row execute function app.check_admission_stays();

grant execute on function app.check_admission_stays() to wg_admin, wg_clinician, wg_nurse;

-- Adds the facility of each admission written to app.patients.admitted_facility_ids, which the
-- patients policies read for "ever admitted to one of the caller's facilities" (policies/
-- patients.sql). SECURITY DEFINER, owned by wg_admission_tracker: whoever admits (a nurse, a
-- clinician, an administrator, the superuser) must record the facility, yet no request role may
-- write the column, and a nurse admitting a patient registered elsewhere may not update that
-- patient at all. The patients it touches are those of the admissions just written, which the
-- admitting role's own policies let through. A facility is only ever added: admissions are never
-- deleted (no role is granted DELETE), so "ever admitted" never shrinks. One statement per
-- INSERT statement, set-based over its rows; per row for the rare UPDATE that moves an
-- admission to another facility or patient (no request role may).
create or replace function app.track_admitted_facilities() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if tg_level = 'ROW' then
        update app.patients p
        set admitted_facility_ids = p.admitted_facility_ids || new.facility_id
        where p.tenant_id = new.tenant_id and p.id = new.patient_id
          and not new.facility_id = any (p.admitted_facility_ids);
        return null;
    end if;
    update app.patients p
    set admitted_facility_ids = p.admitted_facility_ids || array(
        select distinct a.facility_id from written_admissions a
        where a.tenant_id = p.tenant_id and a.patient_id = p.id
          and not a.facility_id = any (p.admitted_facility_ids))
    from written_admissions w
    where p.tenant_id = w.tenant_id and p.id = w.patient_id
      and not w.facility_id = any (p.admitted_facility_ids);
    return null;
end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_admission_tracker;
alter function app.track_admitted_facilities() owner to wg_admission_tracker;
revoke create on schema app from wg_admission_tracker;
create or replace trigger admissions_track_facilities
    after insert on app.admissions
    referencing new table as written_admissions
    for each statement execute function app.track_admitted_facilities();
create or replace trigger admissions_track_facility_change
    after update of facility_id, patient_id on app.admissions
    for each row
    when (old.facility_id is distinct from new.facility_id
          or old.patient_id is distinct from new.patient_id)
    execute function app.track_admitted_facilities();

grant execute on function app.track_admitted_facilities() to wg_admin, wg_clinician, wg_nurse;
