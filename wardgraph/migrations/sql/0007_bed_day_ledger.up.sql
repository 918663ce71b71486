-- 0007 bed-day ledger: app.bed_days becomes an append-only ledger. A row is either a charge
-- (one bed-day at a census instant) or a reversal that cites the one charge it cancels and
-- says why. Corrections (a back-dated discharge or transfer) append reversals and new charges;
-- nothing is updated or deleted (the trigger in policies/bed_days.sql refuses both).
--
-- The constraints below hold the arithmetic whoever writes: per (admission, service date, census
-- instant) the first charge is unique, a reversal cancels one charge of the same slot at the
-- same ward, bed, rate and currency, at most once, and a later charge may only take the slot a
-- reversal freed, once. So the net (charges minus reversals) of a slot is always 0 or 1, and one
-- census instant opens at most one slot per admission (a date that never existed shares its
-- census instant with the date before it, and cannot be charged beside it).

-- LONG EXCLUSIVE LOCK. Adding the ledger's columns (one of them stored and generated) rewrites
-- app.bed_days, and its constraints and indexes are validated and built in the same transaction
-- (NOT VALID and CONCURRENTLY cannot serve here: the constraints must hold for every existing
-- row the moment the release runs, and CONCURRENTLY cannot run in a transaction). Discharges,
-- transfers and accruals wait until the migration commits, for a time that grows with the
-- number of charges. How to run it safely: at a quiet hour, with the API left running
-- (`wardgraph migrate` waits at most WARDGRAPH_MIGRATION_LOCK_TIMEOUT for the lock, then fails
-- and can be retried); time it first on a restored copy (`wardgraph migrate --sql --from
-- 0006_admitted_facilities` prints exactly what runs). The two functions dropped are the
-- earlier release's, which only its own trigger called.
-- squawk-ignore-file adding-field-with-default, adding-not-nullable-field, ban-drop-constraint, ban-drop-function, constraint-missing-not-valid, disallowed-unique-constraint, adding-foreign-key-constraint, require-concurrent-index-creation

-- The earlier release's discharge trigger inserted charges as the discharging role and derived
-- service dates per calendar date; app.reconcile_bed_days() (policies/bed_days.sql) replaces
-- both.
drop trigger if exists admissions_finalise_bed_days on app.admissions;
drop function if exists app.finalise_bed_days();
drop function if exists app.stay_service_dates(timestamptz, timestamptz, timestamptz,
                                               timestamptz, text, timestamptz);

create type app.bed_day_reversal_reason as enum ('discharge_backdated', 'transfer_backdated');

alter table app.bed_days
    add column census_at timestamptz,
    add column reverses_id uuid,
    add column follows_id uuid,
    add column reason app.bed_day_reversal_reason,
    -- +1 for a charge, -1 for a reversal: the net of any set of rows is sum(units).
    add column units smallint generated always as (
        case when reverses_id is null then 1 else -1 end) stored,
    add column entry text generated always as (
        case when reverses_id is null then 'charge' else 'reversal' end) stored,
    -- What a reversal's and a re-charge's foreign keys must find on the other end (NULL, so
    -- not checked, on the rows without that reference).
    add column reverses_entry text generated always as (
        case when reverses_id is not null then 'charge' end) stored,
    add column follows_entry text generated always as (
        case when follows_id is not null then 'reversal' end) stored;

-- Charges written before the ledger: local 00:00 after the service date (only the census
-- functions of the policy files know the odd midnights, and they are applied after this).
update app.bed_days b
set census_at = ((b.service_date + 1)::timestamp at time zone f.timezone)
from app.facilities f
where f.tenant_id = b.tenant_id and f.id = b.facility_id;

alter table app.bed_days
    alter column census_at set not null,
    drop constraint bed_days_once_per_admission_day,
    add constraint bed_days_reversal_has_reason check ((reverses_id is null) = (reason is null)),
    add constraint bed_days_reversal_takes_no_slot check (reverses_id is null or follows_id is null),
    add constraint bed_days_slot_key
        unique (tenant_id, id, admission_id, service_date, census_at, entry),
    add constraint bed_days_charge_key
        unique (tenant_id, id, admission_id, service_date, census_at, ward_id, bed_id, rate,
                currency, entry),
    add constraint bed_days_reverses_a_charge
        foreign key (tenant_id, reverses_id, admission_id, service_date, census_at, ward_id,
                     bed_id, rate, currency, reverses_entry)
        references app.bed_days (tenant_id, id, admission_id, service_date, census_at, ward_id,
                                 bed_id, rate, currency, entry),
    add constraint bed_days_follows_a_reversal
        foreign key (tenant_id, follows_id, admission_id, service_date, census_at, follows_entry)
        references app.bed_days (tenant_id, id, admission_id, service_date, census_at, entry),
    -- Unique per reverses_id (and follows_id): the other columns are those of the one row the
    -- foreign key finds, so they cannot differ between two rows citing it. Keyed on all of the
    -- foreign key's columns so that the key serves it as its index too.
    add constraint bed_days_reversed_once
        unique (tenant_id, reverses_id, admission_id, service_date, census_at, ward_id, bed_id,
                rate, currency, reverses_entry),
    add constraint bed_days_slot_reopened_once
        unique (tenant_id, follows_id, admission_id, service_date, census_at, follows_entry);

-- The first charge of a slot: one per admission and date, and one per admission and census
-- instant. Every later charge of the slot follows a reversal (bed_days_follows_a_reversal).
create unique index bed_days_first_charge_per_day on app.bed_days
    (tenant_id, admission_id, service_date) where reverses_id is null and follows_id is null;
create unique index bed_days_first_charge_per_census on app.bed_days
    (tenant_id, admission_id, census_at) where reverses_id is null and follows_id is null;
-- An admission's ledger in census order: what app.reconcile_bed_days() reads, and the index of
-- the foreign key to admissions (the unique key on service dates that served it is gone).
create index bed_days_admission_census on app.bed_days (tenant_id, admission_id, census_at);
