-- app.admissions, app.bed_stays and app.admission_counters: who is in which bed, and the
-- gapless per-facility-year admission numbers.
alter table app.admissions enable row level security;
alter table app.admissions force row level security;
alter table app.bed_stays enable row level security;
alter table app.bed_stays force row level security;
alter table app.admission_counters enable row level security;
alter table app.admission_counters force row level security;

grant select on app.admissions, app.bed_stays
    to wg_admin, wg_clinician, wg_nurse, wg_billing, wg_partner;
grant insert, update (bed_id, discharged_at, status, discharged_by) on app.admissions
    to wg_admin, wg_clinician, wg_nurse;
grant insert, update (ended_at) on app.bed_stays to wg_admin, wg_clinician, wg_nurse;
-- The numbering trigger runs as the admitting role and upserts its facility's counter row.
grant select, insert, update on app.admission_counters to wg_admin, wg_clinician, wg_nurse;

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

create policy admission_counters_same_tenant on app.admission_counters as restrictive
    to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy admission_counters_admin_all on app.admission_counters to wg_admin
    using (true) with check (true);
create policy admission_counters_facility_staff on app.admission_counters
    to wg_clinician, wg_nurse
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));

-- Numbers an admission <CODE>-<YYYY>-<NNNNNN>, YYYY being the facility-local year of admission.
-- The counter row is upserted in the admitting transaction: its lock serialises concurrent
-- admissions of one facility-year, and a rollback returns the number (gapless, unlike a sequence).
create or replace function app.assign_admission_number() returns trigger
language plpgsql
set search_path = pg_catalog
as $$
declare
    facility_code text;
    facility_zone text;
    local_year    integer;
    next_number   integer;
begin
    select f.code, f.timezone into facility_code, facility_zone
    from app.facilities f where f.tenant_id = new.tenant_id and f.id = new.facility_id;
    if not found then
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
create or replace trigger admissions_number
    before insert on app.admissions
    for each row execute function app.assign_admission_number();

grant execute on function app.assign_admission_number() to wg_admin, wg_clinician, wg_nurse;
