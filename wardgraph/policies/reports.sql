-- The daily report: per facility-local date, the midnight census, admissions, discharges,
-- transfers, bed-days charged and their revenue, observations recorded and NEWS2 escalations,
-- counted by app.daily_report() as wg_reporter.
--
-- Billing has no grant on observations or escalations (vital signs are PHI), yet the report
-- counts them for billing too: how many, never what. So the counting is a SECURITY DEFINER
-- function owned by wg_reporter, a role that runs nothing else. It is granted only the columns
-- a count needs (when, and in which facility), and its policies below let through only the
-- rows of the caller's claims: the caller's facilities, or the whole tenant when the caller is
-- the tenant's ADMIN; as a member of wg_tenant it is bound by every same-tenant policy too.
-- Days are the facility's local days (policies/local_days.sql), never UTC.

-- The request's role claim (ADMIN, CLINICIAN, ..., PARTNER): what wg_reporter acts for. Read
-- through a function, like every claim, so that an ended transaction's '' reads as NULL.
create or replace function app.current_request_role() returns text
language sql stable parallel safe
set search_path = pg_catalog, pg_temp
as $$ select nullif(current_setting('wg.role', true), '') $$;

grant execute on function app.current_request_role() to wg_reporter, wg_ledger_writer;

grant select (tenant_id, id, timezone, currency) on app.facilities to wg_reporter;
grant select (tenant_id, id, facility_id, admitted_at, discharged_at)
    on app.admissions to wg_reporter;
grant select (tenant_id, admission_id, facility_id, started_at, ended_at)
    on app.bed_stays to wg_reporter;
grant select (tenant_id, facility_id, service_date, rate, units) on app.bed_days to wg_reporter;
grant select (tenant_id, facility_id, recorded_at) on app.observations to wg_reporter;
grant select (tenant_id, facility_id, raised_at) on app.escalations to wg_reporter;

-- The report reads for its caller: the caller's facilities, or the whole tenant for ADMIN.
create policy facilities_reporter_reads_for_caller on app.facilities for select to wg_reporter
    using (id = any ((select app.current_facility_ids())::uuid[])
           or (select app.current_request_role()) = 'ADMIN');
-- The report reads for its caller: the caller's facilities, or the whole tenant for ADMIN.
create policy admissions_reporter_reads_for_caller on app.admissions for select to wg_reporter
    using (facility_id = any ((select app.current_facility_ids())::uuid[])
           or (select app.current_request_role()) = 'ADMIN');
-- The report reads for its caller: the caller's facilities, or the whole tenant for ADMIN.
create policy bed_stays_reporter_reads_for_caller on app.bed_stays for select to wg_reporter
    using (facility_id = any ((select app.current_facility_ids())::uuid[])
           or (select app.current_request_role()) = 'ADMIN');
-- The report reads for its caller: the caller's facilities, or the whole tenant for ADMIN.
create policy bed_days_reporter_reads_for_caller on app.bed_days for select to wg_reporter
    using (facility_id = any ((select app.current_facility_ids())::uuid[])
           or (select app.current_request_role()) = 'ADMIN');
-- The report counts observations for its caller's facilities (the whole tenant for ADMIN).
create policy observations_reporter_counts_for_caller on app.observations for select
    to wg_reporter
    using (facility_id = any ((select app.current_facility_ids())::uuid[])
           or (select app.current_request_role()) = 'ADMIN');
-- The report counts escalations for its caller's facilities (the whole tenant for ADMIN).
create policy escalations_reporter_counts_for_caller on app.escalations for select
    to wg_reporter
    using (facility_id = any ((select app.current_facility_ids())::uuid[])
           or (select app.current_request_role()) = 'ADMIN');

-- One row per local date from first_day to last_day (at most 366 dates), in date order, even
-- on the 23- and 25-hour days:
--   census        stays spanning the census instant that ends the date (app.local_midnights'
--                 rule); NULL while that instant is after as_of: the night is still to come;
--                 NULL too for a date the zone skipped (Pacific/Apia 2011-12-30), which had
--                 no midnight of its own: its row is present, every count 0
--   admissions, discharges, transfers, observations, escalations
--                 events whose instant falls in the date (app.census_date)
--   bed_days      the ledger's net bed-days with the date as service date (charges minus
--                 reversals, however written); revenue their net total in the facility's
--                 currency, NULL unless the caller may see money (ADMIN, BILLING, a partner
--                 holding billing:read too). Never more than census: a charge is one census.
-- Callers: ADMIN, BILLING, CLINICIAN, and partners holding reports:read; as_of is the
-- request's clock (the function never reads now()). SECURITY DEFINER: see the file header.
create or replace function app.daily_report(facility uuid, first_day date, last_day date,
                                            as_of timestamptz)
returns table (service_date date, census integer, admissions integer, discharges integer,
               transfers integer, bed_days integer, revenue numeric, currency text,
               observations integer, escalations integer)
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
    tenant            uuid := app.current_tenant_id();
    caller            text := app.current_request_role();
    zone              text;
    facility_currency text;
    sees_money        boolean;
    opens             timestamptz;  -- the first instant of first_day
    closes            timestamptz;  -- the census instant of last_day
begin
    if caller is null or caller not in ('ADMIN', 'BILLING', 'CLINICIAN', 'PARTNER')
       or (caller = 'PARTNER' and not app.has_scope('reports:read')) then
        raise exception 'the caller may not read daily reports' using errcode = '42501';
    end if;
    if last_day < first_day or last_day - first_day >= 366 then
        raise exception 'a daily report covers 1 to 366 dates' using errcode = '22023',
            constraint = 'daily_report_range';
    end if;
    select f.timezone, f.currency into zone, facility_currency
    from app.facilities f where f.tenant_id = tenant and f.id = facility;
    if not found then
        raise exception 'facility not found' using errcode = '23503',
            constraint = 'daily_report_facility_visible';
    end if;
    sees_money := caller in ('ADMIN', 'BILLING')
                  or (caller = 'PARTNER' and app.has_scope('billing:read'));
    opens := app.local_day_start(first_day, zone);
    closes := app.census_instant(last_day, zone);

    return query
    with dates as (
        select first_day + step as report_date, app.census_instant(first_day + step, zone)
               as census_at, app.local_date_existed(first_day + step, zone) as existed
        from generate_series(0, last_day - first_day) as step
    ),
    occupied as (
        select first_day + step as report_date, count(*)::integer as stays
        from app.bed_stays s
        cross join lateral (
            select daterange(app.census_date(s.started_at, zone),
                             app.census_date(s.ended_at, zone))
                   * daterange(first_day, last_day, '[]') as spanned) span
        cross join lateral generate_series(lower(span.spanned) - first_day,
                                           upper(span.spanned) - first_day - 1) as step
        where s.tenant_id = tenant and s.facility_id = facility
          and s.started_at < closes and (s.ended_at is null or s.ended_at > opens)
          and not isempty(span.spanned)
        group by 1
    ),
    events as (
        select app.census_date(a.admitted_at, zone) as report_date, 'admission' as kind,
               null::numeric as amount, null::integer as units
        from app.admissions a
        where a.tenant_id = tenant and a.facility_id = facility
          and a.admitted_at >= opens and a.admitted_at < closes
        union all
        select app.census_date(a.discharged_at, zone), 'discharge', null, null
        from app.admissions a
        where a.tenant_id = tenant and a.facility_id = facility and a.admitted_at < closes
          and a.discharged_at >= opens and a.discharged_at < closes
        union all
        -- A stay that begins after its admission did is a transfer into its bed.
        select app.census_date(s.started_at, zone), 'transfer', null, null
        from app.bed_stays s
        join app.admissions a on a.tenant_id = s.tenant_id and a.id = s.admission_id
        where s.tenant_id = tenant and s.facility_id = facility
          and s.started_at >= opens and s.started_at < closes and s.started_at > a.admitted_at
        union all
        select b.service_date, 'bed_day', b.units * b.rate, b.units
        from app.bed_days b
        where b.tenant_id = tenant and b.facility_id = facility
          and b.service_date between first_day and last_day
        union all
        select app.census_date(o.recorded_at, zone), 'observation', null, null
        from app.observations o
        where o.tenant_id = tenant and o.facility_id = facility
          and o.recorded_at >= opens and o.recorded_at < closes
        union all
        select app.census_date(e.raised_at, zone), 'escalation', null, null
        from app.escalations e
        where e.tenant_id = tenant and e.facility_id = facility
          and e.raised_at >= opens and e.raised_at < closes
    ),
    counted as (
        select e.report_date,
               count(*) filter (where e.kind = 'admission')::integer as admitted,
               count(*) filter (where e.kind = 'discharge')::integer as discharged,
               count(*) filter (where e.kind = 'transfer')::integer as transferred,
               coalesce(sum(e.units) filter (where e.kind = 'bed_day'), 0)::integer
                   as charged,
               coalesce(sum(e.amount) filter (where e.kind = 'bed_day'), 0) as charged_amount,
               count(*) filter (where e.kind = 'observation')::integer as observed,
               count(*) filter (where e.kind = 'escalation')::integer as escalated
        from events e
        group by e.report_date
    )
    select d.report_date,
           case when d.census_at <= as_of and d.existed then coalesce(o.stays, 0) end,
           coalesce(c.admitted, 0), coalesce(c.discharged, 0), coalesce(c.transferred, 0),
           coalesce(c.charged, 0),
           case when sees_money then coalesce(c.charged_amount, 0) end,
           facility_currency,
           coalesce(c.observed, 0), coalesce(c.escalated, 0)
    from dates d
    left join occupied o on o.report_date = d.report_date
    left join counted c on c.report_date = d.report_date
    order by d.report_date;
end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_reporter;
alter function app.daily_report(uuid, date, date, timestamptz) owner to wg_reporter;
revoke create on schema app from wg_reporter;

grant execute on function app.daily_report(uuid, date, date, timestamptz)
    to wg_admin, wg_billing, wg_clinician, wg_partner;
