-- app.bed_days and app.bed_day_watermarks: bed-day charges, one per admission and
-- facility-local service date, and how far each facility's accrual has run. Billing reads and
-- accrues them; clinical roles add only the charges their discharges finalise, never read them.
--
-- The rule (functions below; the local days are those of policies/local_days.sql):
--   * A stay is billed one bed-day for each facility-local midnight it spans: the census
--     instant that ends local date D bills D when started_at < census <= ended_at (an open stay
--     spans every census to come). Admitted at exactly 00:00, first billed at the next midnight;
--     discharged at exactly 00:00, billed for the day that midnight ends. A transfer ends one
--     stay where the next begins, so each census instant falls in exactly one stay: the day is
--     charged at the daily rate of the ward the patient occupies at the midnight that ends it.
--   * An admission that spans no midnight at all is billed one bed-day, on its admission date,
--     at the rate of the ward it was discharged from.
--   * The rate is the ward's daily_rate when the charge is written, stored on the charge with
--     the facility's currency; a later change of rate does not touch charges already written.
--   * The unique index bed_days_once_per_admission_day makes every writer idempotent (INSERT
--     ... ON CONFLICT DO NOTHING): accruing twice, or twice at once, or accruing a day a
--     discharge has already finalised, changes nothing.
alter table app.bed_days enable row level security;
alter table app.bed_days force row level security;
alter table app.bed_day_watermarks enable row level security;
alter table app.bed_day_watermarks force row level security;

grant select on app.bed_days to wg_admin, wg_billing, wg_partner;
grant insert on app.bed_days to wg_admin, wg_billing, wg_clinician, wg_nurse;
grant select, insert, update on app.bed_day_watermarks to wg_admin, wg_billing;

create policy bed_days_same_tenant on app.bed_days as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy bed_days_admin_all on app.bed_days to wg_admin
    using (true) with check (true);
create policy bed_days_billing_facility on app.bed_days to wg_billing
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
-- Discharge finalises a stay's charges in the discharging transaction (the trigger below runs
-- as whoever discharges). Insert only: ON CONFLICT DO NOTHING without a conflict target needs
-- no SELECT, so the clinical roles write charges without being able to read any.
create policy bed_days_discharge_finalises on app.bed_days for insert to wg_clinician, wg_nurse
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));
-- ... and only the charges a discharge produces: for an admission already discharged, at the
-- daily rate of the charged ward, in the facility's currency. The foreign keys alone would let
-- a clinical role bill any admission of the tenant at any price.
create policy bed_days_clinical_writes_discharge_charges on app.bed_days as restrictive
    for insert to wg_clinician, wg_nurse
    with check (
        exists (select 1 from app.admissions a
                where a.tenant_id = bed_days.tenant_id and a.id = bed_days.admission_id
                  and a.facility_id = bed_days.facility_id and a.status = 'DISCHARGED')
        and exists (select 1 from app.wards w
                    where w.tenant_id = bed_days.tenant_id and w.id = bed_days.ward_id
                      and w.daily_rate = bed_days.rate)
        and exists (select 1 from app.facilities f
                    where f.tenant_id = bed_days.tenant_id and f.id = bed_days.facility_id
                      and f.currency = bed_days.currency));
create policy bed_days_partner_needs_scope on app.bed_days for select to wg_partner
    using ((select app.has_scope('billing:read'))
           and facility_id = any ((select app.current_facility_ids())::uuid[]));

create policy bed_day_watermarks_same_tenant on app.bed_day_watermarks as restrictive
    to wg_tenant
    using (tenant_id = (select app.current_tenant_id()))
    with check (tenant_id = (select app.current_tenant_id()));
create policy bed_day_watermarks_admin_all on app.bed_day_watermarks to wg_admin
    using (true) with check (true);
create policy bed_day_watermarks_billing_facility on app.bed_day_watermarks to wg_billing
    using (facility_id = any ((select app.current_facility_ids())::uuid[]))
    with check (facility_id = any ((select app.current_facility_ids())::uuid[]));

-- The service dates one bed stay is charged for, as a range: the local dates whose census
-- instant the stay spans (see app.local_midnights), counting only census instants up to
-- census_limit; or, for the last stay of an admission that spanned no midnight, its admission
-- date. An open stay of an admission being discharged ends at the discharge.
create or replace function app.stay_service_dates(
    started_at timestamptz, ended_at timestamptz, admitted_at timestamptz,
    discharged_at timestamptz, zone text, census_limit timestamptz)
returns daterange
language plpgsql immutable parallel safe
set search_path = pg_catalog, pg_temp
as $$
declare
    first_day date := app.census_date(started_at, zone);
    -- The first date whose census is after the end of the stay (or the limit).
    end_day   date := app.census_date(
        greatest(started_at, least(coalesce(ended_at, discharged_at, census_limit),
                                   census_limit)), zone);
    admission_day date;
begin
    if first_day = end_day and discharged_at <= census_limit
       and (ended_at is null or ended_at = discharged_at) then
        -- The last stay of a discharged admission, and it spans no midnight: nor did the
        -- admission, if it began on the same day.
        admission_day := case when admitted_at = started_at then first_day
                              else app.census_date(admitted_at, zone) end;
        if admission_day = end_day then
            return daterange(admission_day, admission_day, '[]');
        end if;
    end if;
    return daterange(first_day, end_day);
end
$$;

-- accrueBedDays: writes a facility's bed-day charges for every local date up to and including
-- `through`, in one call, as the calling role (so under its RLS) with the request's clock as
-- census_limit. Refuses a `through` whose census instant is still to come at census_limit.
--
-- Incremental: the facility's watermark row records the last date accrued, and a run charges
-- only later dates, from the stays that reach past the last census it covered. An admission
-- with no charge yet (entered back-dated after a run) is charged from its first day. What a
-- watermark can still skip (a back-dated stay that ended before the last run, of an admission
-- already charged) is charged when the admission is discharged: the discharge trigger below
-- writes every missing day of the admission.
--
-- The watermark row is locked first, so two runs for one facility take turns and the second
-- finds the days charged; the unique index makes any other overlap (a discharge finalising the
-- same days) harmless. Rows are written in (admission, date) order, the same order the
-- discharge trigger writes them, so the two never wait on each other in a cycle.
create or replace function app.accrue_bed_days(facility uuid, through date,
                                               census_limit timestamptz)
returns table (charges_created integer, amount numeric, currency text, bed_days integer)
language plpgsql volatile
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
    tenant          uuid := app.current_tenant_id();
    zone            text;
    facility_money  text;
    accrued         date;
    covered         timestamptz;  -- the census instant of the last date accrued
    closes          timestamptz;  -- the census instant of `through`
    created         integer;
    total           numeric;
begin
    select f.timezone, f.currency into zone, facility_money
    from app.facilities f where f.tenant_id = tenant and f.id = facility;
    if not found then
        raise exception 'facility not found' using errcode = '23503',
            constraint = 'bed_days_facility_visible';
    end if;
    closes := app.census_instant(through, zone);
    if closes > census_limit then
        raise exception 'local date % has not ended at the facility', through
            using errcode = '22023', constraint = 'bed_days_through_has_ended';
    end if;

    insert into app.bed_day_watermarks as w (tenant_id, facility_id)
    values (tenant, facility)
    on conflict (tenant_id, facility_id) do nothing;
    select w.accrued_through into accrued
    from app.bed_day_watermarks w
    where w.tenant_id = tenant and w.facility_id = facility
    for update;
    covered := app.census_instant(accrued, zone);

    -- Materialized: each stay's dates are reckoned once, not once per use.
    with stays as materialized (
        select s.admission_id, s.ward_id, s.bed_id,
               app.stay_service_dates(s.started_at, s.ended_at, a.admitted_at,
                                      a.discharged_at, zone, census_limit)
               * case when accrued is not null
                           and exists (select 1 from app.bed_days b
                                       where b.tenant_id = s.tenant_id
                                         and b.admission_id = s.admission_id)
                      then daterange(least(accrued + 1, through + 1), through + 1)
                      else daterange(null, through + 1) end as dates
        from app.bed_stays s
        join app.admissions a on a.tenant_id = s.tenant_id and a.id = s.admission_id
        where s.tenant_id = tenant and s.facility_id = facility
          and s.started_at < closes
          and (covered is null or s.ended_at is null or s.ended_at > covered)
    ),
    written as (
        insert into app.bed_days as b (tenant_id, admission_id, facility_id, ward_id, bed_id,
                                       service_date, rate, currency, accrued_at)
        select tenant, stays.admission_id, facility, stays.ward_id, stays.bed_id,
               lower(stays.dates) + step, w.daily_rate, facility_money, census_limit
        from stays
        join app.wards w on w.tenant_id = tenant and w.id = stays.ward_id
        cross join lateral generate_series(0, upper(stays.dates) - lower(stays.dates) - 1)
            as step
        where not isempty(stays.dates)
        order by stays.admission_id, lower(stays.dates) + step
        on conflict (tenant_id, admission_id, service_date) do nothing
        returning b.rate
    )
    select count(*)::integer, coalesce(sum(written.rate), 0) into created, total from written;

    update app.bed_day_watermarks w
    set accrued_through = greatest(w.accrued_through, through), accrued_at = census_limit
    where w.tenant_id = tenant and w.facility_id = facility;

    return query
    select created, total, facility_money,
           (select count(*)::integer from app.bed_days b
            where b.tenant_id = tenant and b.facility_id = facility
              and b.service_date = through);
end
$$;

grant execute on function app.stay_service_dates(timestamptz, timestamptz, timestamptz,
    timestamptz, text, timestamptz) to wg_admin, wg_billing, wg_clinician, wg_nurse;
grant execute on function app.accrue_bed_days(uuid, date, timestamptz) to wg_admin, wg_billing;

-- Discharge finalises the admission's charges, in the database so that no path can forget it:
-- every day the admission spans that is not charged yet (or its one day, if it spanned no
-- midnight), whether or not an accrual ever ran. Runs as the discharging role, at the rates in
-- force now; the charges are dated by the discharge. The admission's last stay may still be
-- open here (the statement that closes it can come next): it ends at the discharge.
create or replace function app.finalise_bed_days() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
declare
    zone           text;
    facility_money text;
begin
    select f.timezone, f.currency into zone, facility_money
    from app.facilities f where f.tenant_id = new.tenant_id and f.id = new.facility_id;
    -- No ON CONFLICT target: naming one needs SELECT on the table, which clinical roles lack.
    -- The only other unique key, the primary key, is a fresh uuid.
    insert into app.bed_days (tenant_id, admission_id, facility_id, ward_id, bed_id,
                              service_date, rate, currency, accrued_at)
    select new.tenant_id, new.id, new.facility_id, s.ward_id, s.bed_id, lower(d.dates) + step,
           w.daily_rate, facility_money, new.discharged_at
    from app.bed_stays s
    join app.wards w on w.tenant_id = s.tenant_id and w.id = s.ward_id
    cross join lateral (
        select app.stay_service_dates(s.started_at, s.ended_at, new.admitted_at,
                                      new.discharged_at, zone, 'infinity') as dates) d
    cross join lateral generate_series(0, upper(d.dates) - lower(d.dates) - 1) as step
    where s.tenant_id = new.tenant_id and s.admission_id = new.id and not isempty(d.dates)
    order by lower(d.dates) + step
    on conflict do nothing;
    return null;
end
$$;
create or replace trigger admissions_finalise_bed_days
    after update of status on app.admissions
    for each row when (old.status = 'ACTIVE' and new.status = 'DISCHARGED')
    execute function app.finalise_bed_days();

grant execute on function app.finalise_bed_days() to wg_admin, wg_clinician, wg_nurse;
