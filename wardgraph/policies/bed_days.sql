-- app.bed_days and app.bed_day_watermarks: the bed-day ledger, and how far each facility's
-- accrual has run. Billing and administrators read them; no request role writes either. Only
-- the functions below write them, as wg_ledger_writer.
--
-- The rule (the local days are those of policies/local_days.sql):
--   * A stay is billed one bed-day for each facility-local census instant it spans: the
--     midnight that ends local date D bills D when started_at < census <= ended_at (an open stay
--     spans every census to come). Admitted at exactly 00:00, first billed at the next midnight;
--     discharged at exactly 00:00, billed for the day that midnight ends. A transfer ends one
--     stay where the next begins, so each census instant falls in exactly one stay: the day is
--     charged at the daily rate of the ward the patient occupies at the midnight that ends it.
--   * One charge per census instant, not per calendar date: a date a zone skipped (Pacific/Apia,
--     2011-12-30) has no midnight of its own and bills nothing; a midnight that came twice bills
--     once. An admission that spans no midnight bills no bed-day (nothing was counted at any
--     census), so a day's bed-days never exceed its census.
--   * The rate is the ward's daily_rate when the charge is written, stored on the charge with
--     the facility's currency; a later change of rate does not touch charges already written.
--
-- The ledger (constraints in the 0007 migration): rows are only appended. A charge is +1
-- bed-day; a reversal is -1 and cites the charge it cancels (same admission, date, census
-- instant, ward, bed, rate and currency) and why. Per (admission, census instant) the net is 0
-- or 1. Which charges stand for an admission is a function of its stays:
--   * discharged: every census instant of its stays;
--   * still in hospital: every census instant up to the facility's accrual watermark (the last
--     date accrueBedDays ran through), and none after it.
-- app.reconcile_bed_days() brings one admission's ledger in line with that: it reverses the
-- standing charges its stays no longer call for (a back-dated discharge: nights after it; a
-- back-dated transfer: nights now spent in another ward or bed) and appends the missing ones.
-- Discharge, transfer, admission and accrual all end by calling it, so the rule holds after
-- every committed change, and running it again changes nothing.
alter table app.bed_days enable row level security;
alter table app.bed_days force row level security;
alter table app.bed_day_watermarks enable row level security;
alter table app.bed_day_watermarks force row level security;

-- Read only, for every request role: no INSERT, UPDATE or DELETE on the ledger or on the
-- watermarks (a watermark moved by hand would bill nights that have not happened).
grant select on app.bed_days to wg_admin, wg_billing, wg_partner;
grant select on app.bed_day_watermarks to wg_admin, wg_billing;

create policy bed_days_same_tenant on app.bed_days as restrictive to wg_tenant
    using (tenant_id = (select app.current_tenant_id()));
create policy bed_days_admin_reads on app.bed_days for select to wg_admin
    using (true);
create policy bed_days_billing_facility on app.bed_days for select to wg_billing
    using (facility_id = any ((select app.current_facility_ids())::uuid[]));
create policy bed_days_partner_needs_scope on app.bed_days for select to wg_partner
    using ((select app.has_scope('billing:read'))
           and facility_id = any ((select app.current_facility_ids())::uuid[]));

create policy bed_day_watermarks_same_tenant on app.bed_day_watermarks as restrictive
    to wg_tenant
    using (tenant_id = (select app.current_tenant_id()));
create policy bed_day_watermarks_admin_reads on app.bed_day_watermarks for select to wg_admin
    using (true);
create policy bed_day_watermarks_billing_facility on app.bed_day_watermarks for select
    to wg_billing
    using (facility_id = any ((select app.current_facility_ids())::uuid[]));

-- wg_ledger_writer runs only behind the functions below, which name the tenant of every row
-- they touch: the tenant of the admission a trigger fired for, or the caller's tenant claim
-- for an accrual. It is not a member of wg_tenant, so a discharge by the claim-less superuser
-- (maintenance) is finalised too.
grant select (tenant_id, id, facility_id, admitted_at, discharged_at, status)
    on app.admissions to wg_ledger_writer;
grant select (tenant_id, admission_id, facility_id, ward_id, bed_id, started_at, ended_at)
    on app.bed_stays to wg_ledger_writer;
grant select (tenant_id, id, code, timezone, currency) on app.facilities to wg_ledger_writer;
grant select (tenant_id, id, daily_rate) on app.wards to wg_ledger_writer;
grant select, insert on app.bed_days to wg_ledger_writer;
grant select, insert, update on app.bed_day_watermarks to wg_ledger_writer;

-- The ledger writer reads for the admission or facility its function was called for.
create policy admissions_ledger_writer_reads on app.admissions for select
    to wg_ledger_writer using (true);
-- The ledger writer reads the stays of the admission its function was called for.
create policy bed_stays_ledger_writer_reads on app.bed_stays for select
    to wg_ledger_writer using (true);
-- The ledger writer reads a facility's zone, currency and code for its functions.
create policy facilities_ledger_writer_reads on app.facilities for select
    to wg_ledger_writer using (true);
-- The ledger writer reads the daily rate of the ward a charge is written for.
create policy wards_ledger_writer_reads on app.wards for select
    to wg_ledger_writer using (true);
-- The ledger writer appends charges and reversals for the functions below, and reads the
-- ledger to know what stands.
create policy bed_days_ledger_writer_appends on app.bed_days
    to wg_ledger_writer using (true) with check (true);
-- The ledger writer advances a facility's watermark for app.accrue_bed_days().
create policy bed_day_watermarks_ledger_writer on app.bed_day_watermarks
    to wg_ledger_writer using (true) with check (true);

-- Append-only for everyone, the table's owner and the ledger writer included: a correction
-- is a reversal, never an edit. (Only a superuser can switch triggers off.)
create or replace function app.refuse_bed_day_changes() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    raise exception 'bed-day charges are a ledger: append a reversal instead of % ', tg_op
        using errcode = '42501', constraint = 'bed_days_append_only';
end
$$;
create or replace trigger bed_days_append_only
    before update or delete on app.bed_days
    for each row execute function app.refuse_bed_day_changes();
create or replace trigger bed_days_no_truncate
    before truncate on app.bed_days
    for each statement execute function app.refuse_bed_day_changes();

-- The charges an admission's stays call for: one row per census instant one of its stays spans
-- (app.local_midnights), with the ward and bed occupied then, counting census instants up to
-- `horizon` only. An open stay of a discharged admission (the discharge is being written) ends
-- at the discharge. Pass a finite horizon for an admission still in hospital.
create or replace function app.expected_bed_days(tenant uuid, admission uuid,
                                                 horizon timestamptz)
returns table (service_date date, census_at timestamptz, ward_id uuid, bed_id uuid)
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select m.service_date, m.census_at, s.ward_id, s.bed_id
    from app.admissions a
    join app.facilities f on f.tenant_id = a.tenant_id and f.id = a.facility_id
    join app.bed_stays s on s.tenant_id = a.tenant_id and s.admission_id = a.id
    cross join lateral app.local_midnights(
        s.started_at,
        least(coalesce(s.ended_at, a.discharged_at, horizon), horizon),
        f.timezone) m
    where a.tenant_id = tenant and a.id = admission and s.started_at < horizon
    order by m.census_at
$$;

-- Brings one admission's ledger in line with its stays (the rule in the file header): reverses,
-- with reason `why`, each standing charge the stays do not call for, then charges each census
-- instant that has no standing charge, at the ward's rate now, recorded at written_at. A NULL
-- `why` appends only (accrual: nothing it finds standing is its to correct). For an admission
-- still in hospital, counts census instants up to `horizon`, or further if charges already
-- reach further (a charge is reversed only when the stays contradict it). Returns the charges
-- appended and their total.
--
-- SECURITY DEFINER, owned by wg_ledger_writer, callable only by the other functions here: no
-- request role may write a charge. search_path pins pg_catalog and pg_temp (last), so no
-- object a caller creates can stand in for the catalog's.
--
-- Concurrent writers of one admission (an accrual and a discharge) take turns on a transaction
-- lock keyed by the admission; the unique indexes of the ledger refuse anything that would
-- still double a charge.
create or replace function app.reconcile_bed_days(
    tenant uuid, admission uuid, horizon timestamptz, written_at timestamptz,
    why app.bed_day_reversal_reason)
returns table (charges_created integer, amount numeric)
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
    facility       uuid;
    facility_money text;
    discharged     timestamptz;
    reach          timestamptz;
    created        integer;
    total          numeric;
begin
    perform pg_catalog.pg_advisory_xact_lock(
        pg_catalog.hashtextextended('app.bed_days ' || admission::text, 0));
    select a.facility_id, a.discharged_at, f.currency into facility, discharged, facility_money
    from app.admissions a
    join app.facilities f on f.tenant_id = a.tenant_id and f.id = a.facility_id
    where a.tenant_id = tenant and a.id = admission;
    if not found then
        return query select 0, 0::numeric;
        return;
    end if;
    if discharged is not null then
        horizon := discharged;
    else
        select max(b.census_at) into reach from app.bed_days b
        where b.tenant_id = tenant and b.admission_id = admission;
        horizon := greatest(horizon, reach);
        if horizon is null then
            return query select 0, 0::numeric;
            return;
        end if;
    end if;

    if why is not null then
        insert into app.bed_days (tenant_id, admission_id, facility_id, ward_id, bed_id,
                                  service_date, census_at, rate, currency, accrued_at,
                                  reverses_id, reason)
        select b.tenant_id, b.admission_id, b.facility_id, b.ward_id, b.bed_id, b.service_date,
               b.census_at, b.rate, b.currency, written_at, b.id, why
        from app.bed_days b
        where b.tenant_id = tenant and b.admission_id = admission and b.reverses_id is null
          and not exists (select 1 from app.bed_days r
                          where r.tenant_id = b.tenant_id and r.reverses_id = b.id)
          and not exists (select 1 from app.expected_bed_days(tenant, admission, horizon) e
                          where e.service_date = b.service_date and e.census_at = b.census_at
                            and e.ward_id = b.ward_id and e.bed_id = b.bed_id)
        order by b.census_at;
    end if;

    with written as (
        insert into app.bed_days as b (tenant_id, admission_id, facility_id, ward_id, bed_id,
                                       service_date, census_at, rate, currency, accrued_at,
                                       follows_id)
        select tenant, admission, facility, e.ward_id, e.bed_id, e.service_date, e.census_at,
               w.daily_rate, facility_money, written_at,
               -- The reversal that freed the slot, if it was charged before.
               (select r.id from app.bed_days r
                where r.tenant_id = tenant and r.admission_id = admission
                  and r.service_date = e.service_date and r.census_at = e.census_at
                  and r.reverses_id is not null
                  and not exists (select 1 from app.bed_days c
                                  where c.tenant_id = r.tenant_id and c.follows_id = r.id))
        from app.expected_bed_days(tenant, admission, horizon) e
        join app.wards w on w.tenant_id = tenant and w.id = e.ward_id
        where not exists (
            select 1 from app.bed_days s
            where s.tenant_id = tenant and s.admission_id = admission
              and s.census_at = e.census_at and s.reverses_id is null
              and not exists (select 1 from app.bed_days r
                              where r.tenant_id = s.tenant_id and r.reverses_id = s.id))
        order by e.census_at
        returning b.rate
    )
    select count(*)::integer, coalesce(sum(written.rate), 0) into created, total from written;
    return query select created, total;
end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_ledger_writer;
alter function app.reconcile_bed_days(uuid, uuid, timestamptz, timestamptz,
                                      app.bed_day_reversal_reason) owner to wg_ledger_writer;
alter function app.expected_bed_days(uuid, uuid, timestamptz) owner to wg_ledger_writer;
revoke create on schema app from wg_ledger_writer;

-- The census instant of the facility's accrual watermark: the horizon up to which an admission
-- still in hospital is charged. NULL before the first accrual.
create or replace function app.bed_day_horizon(tenant uuid, facility uuid)
returns timestamptz
language sql stable
set search_path = pg_catalog, pg_temp
as $$
    select app.census_instant(w.accrued_through, f.timezone)
    from app.bed_day_watermarks w
    join app.facilities f on f.tenant_id = w.tenant_id and f.id = w.facility_id
    where w.tenant_id = tenant and w.facility_id = facility
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_ledger_writer;
alter function app.bed_day_horizon(uuid, uuid) owner to wg_ledger_writer;
revoke create on schema app from wg_ledger_writer;

-- accrueBedDays: charges every census instant up to the one that ends `through` for each
-- admission of the facility still in hospital (discharged ones were finalised by their
-- discharge), and advances the facility's watermark. Refuses a `through` whose census instant
-- is still to come at census_limit (the request's clock; the function never reads now()).
--
-- SECURITY DEFINER, owned by wg_ledger_writer (see app.reconcile_bed_days): callable by
-- wg_admin and wg_billing. It acts for the caller's tenant claim, and a billing caller only for
-- a facility among its claims, as the ledger's read policies would let it see.
--
-- The watermark row is locked first, so two runs for one facility take turns and the second
-- finds the nights charged. Idempotent: a second run appends nothing.
create or replace function app.accrue_bed_days(facility uuid, through date,
                                               census_limit timestamptz)
returns table (charges_created integer, amount numeric, currency text, bed_days integer)
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
    tenant          uuid := app.current_tenant_id();
    zone            text;
    facility_money  text;
    accrued         date;
    horizon         timestamptz;
    closes          timestamptz;  -- the census instant of `through`
    admission       uuid;
    created         integer := 0;
    total           numeric := 0;
    step            record;
begin
    select f.timezone, f.currency into zone, facility_money
    from app.facilities f
    where f.tenant_id = tenant and f.id = facility
      and (app.current_request_role() = 'ADMIN'
           or f.id = any (app.current_facility_ids()));
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
    update app.bed_day_watermarks w
    set accrued_through = greatest(w.accrued_through, through), accrued_at = census_limit
    where w.tenant_id = tenant and w.facility_id = facility;
    horizon := app.census_instant(greatest(accrued, through), zone);

    -- In admission order, the order every writer locks admissions in.
    for admission in
        select a.id from app.admissions a
        where a.tenant_id = tenant and a.facility_id = facility and a.status = 'ACTIVE'
          and a.admitted_at < horizon
        order by a.id
    loop
        select * into step from app.reconcile_bed_days(tenant, admission, horizon,
                                                        census_limit, null);
        created := created + step.charges_created;
        total := total + step.amount;
    end loop;

    return query
    select created, total, facility_money,
           (select coalesce(sum(b.units), 0)::integer from app.bed_days b
            where b.tenant_id = tenant and b.facility_id = facility
              and b.service_date = through);
end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_ledger_writer;
alter function app.accrue_bed_days(uuid, date, timestamptz) owner to wg_ledger_writer;
revoke create on schema app from wg_ledger_writer;

-- A discharge finalises the admission's charges in the discharging transaction, in the
-- database so that no path can forget it: every night of its stays is charged, and a charge
-- for a night after a back-dated discharge is reversed. Its last stay may still be open here
-- (the statement that closes it comes next): it ends at the discharge. SECURITY DEFINER, owned
-- by wg_ledger_writer: the discharging role has no grant on the ledger.
create or replace function app.reconcile_bed_days_on_discharge() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    perform app.reconcile_bed_days(new.tenant_id, new.id, new.discharged_at, new.discharged_at,
                                   'discharge_backdated');
    return null;
end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_ledger_writer;
alter function app.reconcile_bed_days_on_discharge() owner to wg_ledger_writer;
revoke create on schema app from wg_ledger_writer;
create or replace trigger admissions_reconcile_bed_days
    after update of status on app.admissions
    for each row when (old.status = 'ACTIVE' and new.status = 'DISCHARGED')
    execute function app.reconcile_bed_days_on_discharge();

-- A discharge undone by an administrator (undoDischarge) makes the admission "in hospital"
-- again: its charges are re-derived up to the facility's watermark, so the nights between the
-- old discharge and the watermark are charged again (each after the reversal that freed it),
-- and a standing charge the re-opened stays no longer call for is reversed as
-- `discharge_undone`. Fires after the statement that re-opens the admission and its last stay
-- together (db/admissions.py), so the stay is open when the charges are derived. Written at the
-- facility's last accrual (the request clock it ran at), else at the old discharge: the undo has
-- no business time of its own, and these functions never read the database clock. SECURITY
-- DEFINER, owned by wg_ledger_writer, as above.
create or replace function app.reconcile_bed_days_on_undo() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    perform app.reconcile_bed_days(
        new.tenant_id, new.id, app.bed_day_horizon(new.tenant_id, new.facility_id),
        coalesce((select w.accrued_at from app.bed_day_watermarks w
                  where w.tenant_id = new.tenant_id and w.facility_id = new.facility_id),
                 old.discharged_at),
        'discharge_undone');
    return null;
end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_ledger_writer;
alter function app.reconcile_bed_days_on_undo() owner to wg_ledger_writer;
revoke create on schema app from wg_ledger_writer;
create or replace trigger admissions_reconcile_bed_days_on_undo
    after update of status on app.admissions
    for each row when (old.status = 'DISCHARGED' and new.status = 'ACTIVE')
    execute function app.reconcile_bed_days_on_undo();

-- A new stay (an admission's first, or a transfer's) re-derives the admission's charges up to
-- the facility's watermark: a transfer back-dated before accrued nights moves them to the new
-- ward's rate (reversal and new charge); an admission entered back-dated behind the watermark
-- is charged for the nights already accrued for everyone else. Stays written for an admission
-- already discharged (maintenance, seeding) are left to the discharge rule. SECURITY DEFINER,
-- owned by wg_ledger_writer, as above.
create or replace function app.reconcile_bed_days_on_transfer() returns trigger
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
begin
    if exists (select 1 from app.admissions a
               where a.tenant_id = new.tenant_id and a.id = new.admission_id
                 and a.status = 'ACTIVE') then
        perform app.reconcile_bed_days(new.tenant_id, new.admission_id,
                                       app.bed_day_horizon(new.tenant_id, new.facility_id),
                                       new.started_at, 'transfer_backdated');
    end if;
    return null;
end
$$;
-- The new owner needs CREATE on the schema for this statement alone (unless a superuser
-- runs it); it is taken back at once.
grant create on schema app to wg_ledger_writer;
alter function app.reconcile_bed_days_on_transfer() owner to wg_ledger_writer;
revoke create on schema app from wg_ledger_writer;
create or replace trigger bed_stays_reconcile_bed_days
    after insert on app.bed_stays
    for each row execute function app.reconcile_bed_days_on_transfer();

-- The owner calls its own functions (the reset of policies/ revokes even the owner's EXECUTE).
grant execute on function app.reconcile_bed_days(uuid, uuid, timestamptz, timestamptz,
    app.bed_day_reversal_reason), app.expected_bed_days(uuid, uuid, timestamptz),
    app.bed_day_horizon(uuid, uuid) to wg_ledger_writer;
grant execute on function app.accrue_bed_days(uuid, date, timestamptz) to wg_admin, wg_billing;
grant execute on function app.reconcile_bed_days_on_discharge(),
    app.reconcile_bed_days_on_transfer() to wg_admin, wg_clinician, wg_nurse;
grant execute on function app.reconcile_bed_days_on_undo() to wg_admin;
