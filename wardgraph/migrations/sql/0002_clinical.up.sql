-- 0002 clinical: admissions and bed stays, admission counters, observations, escalations and
-- bed-day charges. The invariants are constraints here; grants and RLS are in wardgraph/policies/.

create type app.admission_status as enum ('ACTIVE', 'DISCHARGED');
create type app.consciousness as enum ('ALERT', 'NEW_CONFUSION', 'VOICE', 'PAIN', 'UNRESPONSIVE');
create type app.news2_risk as enum ('LOW', 'LOW_MEDIUM', 'MEDIUM', 'HIGH');

create table app.admissions (
    tenant_id     uuid                 not null,
    id            uuid                 not null default gen_random_uuid(),
    facility_id   uuid                 not null,
    patient_id    uuid                 not null,
    bed_id        uuid                 not null,  -- the current bed (the last one once discharged)
    number        text                 not null,  -- <FACILITY CODE>-<local year>-<NNNNNN>, set by trigger
    admitted_at   timestamptz          not null,
    discharged_at timestamptz,
    status        app.admission_status not null default 'ACTIVE',
    admitted_by   uuid,
    discharged_by uuid,
    created_at    timestamptz          not null default now(),
    primary key (tenant_id, id),
    -- Target of bed_stays' key: a stay always belongs to its admission's facility and patient.
    constraint admissions_stay_key unique (tenant_id, id, facility_id, patient_id),
    constraint admissions_number_unique unique (tenant_id, number),
    constraint admissions_discharge_after_admit check (discharged_at is null or discharged_at > admitted_at),
    constraint admissions_status_matches_discharge check ((status = 'ACTIVE') = (discharged_at is null)),
    foreign key (tenant_id, patient_id) references app.patients (tenant_id, id),
    foreign key (tenant_id, facility_id, bed_id) references app.beds (tenant_id, facility_id, id),
    foreign key (tenant_id, admitted_by) references app.users (tenant_id, id),
    foreign key (tenant_id, discharged_by) references app.users (tenant_id, id)
);
-- The race-proof rules: whatever Python checked first, the second writer is refused here. They
-- are checked when the admission row is written, before any bed stay, so a duplicate admission
-- is always named BED_OCCUPIED or PATIENT_ALREADY_ADMITTED, never a stay overlap.
create unique index admissions_one_active_per_bed
    on app.admissions (tenant_id, bed_id) where status = 'ACTIVE';
create unique index admissions_one_active_per_patient
    on app.admissions (tenant_id, patient_id) where status = 'ACTIVE';
create index admissions_facility_time on app.admissions (tenant_id, facility_id, admitted_at);
create index admissions_patient on app.admissions (tenant_id, patient_id, admitted_at desc);
create index admissions_bed on app.admissions (tenant_id, facility_id, bed_id);
create index admissions_admitted_by on app.admissions (tenant_id, admitted_by);
create index admissions_discharged_by on app.admissions (tenant_id, discharged_by);

-- One row per bed an admission occupied; a transfer closes one stay and opens the next at the
-- same instant. The stays of an admission cover it without gap or overlap (a deferred check in
-- policies/admissions.sql proves it at commit).
create table app.bed_stays (
    tenant_id    uuid        not null,
    id           uuid        not null default gen_random_uuid(),
    admission_id uuid        not null,
    facility_id  uuid        not null,
    patient_id   uuid        not null,
    ward_id      uuid        not null,
    bed_id       uuid        not null,
    started_at   timestamptz not null,
    ended_at     timestamptz,
    primary key (tenant_id, id),
    constraint bed_stays_end_after_start check (ended_at is null or ended_at > started_at),
    -- A bed holds one patient at a time, back-dated entries included: '[)' lets a stay end
    -- exactly when the next begins.
    constraint bed_stays_no_overlap exclude using gist (
        tenant_id with =, bed_id with =, tstzrange(started_at, ended_at, '[)') with &&),
    -- A patient holds one bed at a time, across admissions too.
    constraint bed_stays_patient_no_overlap exclude using gist (
        tenant_id with =, patient_id with =, tstzrange(started_at, ended_at, '[)') with &&),
    foreign key (tenant_id, admission_id, facility_id, patient_id)
        references app.admissions (tenant_id, id, facility_id, patient_id),
    foreign key (tenant_id, facility_id, bed_id) references app.beds (tenant_id, facility_id, id),
    foreign key (tenant_id, ward_id, bed_id) references app.beds (tenant_id, ward_id, id)
);
create index bed_stays_admission on app.bed_stays (tenant_id, admission_id, started_at);
create index bed_stays_facility_time on app.bed_stays (tenant_id, facility_id, started_at);
create index bed_stays_ward_bed on app.bed_stays (tenant_id, ward_id, bed_id);
create index bed_stays_facility_bed on app.bed_stays (tenant_id, facility_id, bed_id);
-- Supports the foreign key to the admission's key (re-keying an admission looks its stays up).
create index bed_stays_admission_key
    on app.bed_stays (tenant_id, admission_id, facility_id, patient_id);

-- Gapless admission numbers: one counter row per facility and local year, incremented in the
-- admitting transaction, so a rolled-back admission gives its number back.
create table app.admission_counters (
    tenant_id   uuid    not null,
    facility_id uuid    not null,
    year        integer not null,
    last_number integer not null constraint admission_counters_positive check (last_number > 0),
    primary key (tenant_id, facility_id, year),
    foreign key (tenant_id, facility_id) references app.facilities (tenant_id, id)
);

create table app.observations (
    tenant_id           uuid              not null,
    id                  uuid              not null default gen_random_uuid(),
    patient_id          uuid              not null,
    -- Where the patient was when observed: the bed stay covering recorded_at (admission and
    -- ward with it), else the registering facility.
    facility_id         uuid              not null,
    admission_id        uuid,
    ward_id             uuid,
    recorded_at         timestamptz       not null,
    recorded_by_user    uuid,
    recorded_by_partner uuid,
    respiration_rate    smallint          not null constraint observations_respiration_rate_range check (respiration_rate between 0 and 80),
    spo2                smallint          not null constraint observations_spo2_range check (spo2 between 0 and 100),
    on_oxygen           boolean           not null,
    systolic_bp         smallint          not null constraint observations_systolic_bp_range check (systolic_bp between 20 and 300),
    pulse               smallint          not null constraint observations_pulse_range check (pulse between 0 and 300),
    consciousness       app.consciousness not null,
    temperature         numeric(3,1)      not null constraint observations_temperature_range check (temperature between 25.0 and 45.0),
    -- The patient's NEWS2 SpO2 scale in force when recorded; the news2_* columns are scored on it.
    spo2_scale          smallint          not null constraint observations_spo2_scale_valid check (spo2_scale in (1, 2)),
    news2_total         smallint          not null constraint observations_news2_total_range check (news2_total between 0 and 20),
    news2_risk          app.news2_risk    not null,
    news2_red_score     boolean           not null,
    idempotency_key     text              constraint observations_idempotency_key_length check (length(idempotency_key) between 1 and 200),
    created_at          timestamptz       not null default now(),
    primary key (tenant_id, id),
    -- Target of escalations' key: an escalation always names its observation's patient and
    -- facility.
    constraint observations_escalation_key unique (tenant_id, id, patient_id, facility_id),
    constraint observations_recorded_by_someone check (
        (recorded_by_user is null) <> (recorded_by_partner is null)),
    foreign key (tenant_id, patient_id) references app.patients (tenant_id, id),
    foreign key (tenant_id, facility_id) references app.facilities (tenant_id, id),
    -- The admission an observation names is the same patient's, at the same facility.
    foreign key (tenant_id, admission_id, facility_id, patient_id)
        references app.admissions (tenant_id, id, facility_id, patient_id),
    foreign key (tenant_id, facility_id, ward_id) references app.wards (tenant_id, facility_id, id),
    foreign key (tenant_id, recorded_by_user) references app.users (tenant_id, id),
    foreign key (tenant_id, recorded_by_partner) references app.partner_tokens (tenant_id, id)
);
-- A client retrying with the same key gets the first row back: the index, not a lookup, decides.
create unique index observations_idempotency_key_unique
    on app.observations (tenant_id, idempotency_key) where idempotency_key is not null;
create index observations_patient_recent on app.observations (tenant_id, patient_id, recorded_at desc, id desc);
create index observations_facility_time on app.observations (tenant_id, facility_id, recorded_at);
create index observations_admission
    on app.observations (tenant_id, admission_id, facility_id, patient_id);
create index observations_ward on app.observations (tenant_id, facility_id, ward_id);
create index observations_recorded_by_user on app.observations (tenant_id, recorded_by_user);
create index observations_recorded_by_partner on app.observations (tenant_id, recorded_by_partner);

-- Written in the observation's transaction when NEWS2 calls for escalation.
create table app.escalations (
    tenant_id      uuid           not null,
    id             uuid           not null default gen_random_uuid(),
    observation_id uuid           not null,
    patient_id     uuid           not null,
    facility_id    uuid           not null,
    ward_id        uuid,
    news2_total    smallint       not null,
    news2_risk     app.news2_risk not null,
    red_score      boolean        not null,
    raised_at      timestamptz    not null,
    primary key (tenant_id, id),
    constraint escalations_one_per_observation unique (tenant_id, observation_id),
    foreign key (tenant_id, observation_id, patient_id, facility_id)
        references app.observations (tenant_id, id, patient_id, facility_id),
    foreign key (tenant_id, patient_id) references app.patients (tenant_id, id),
    foreign key (tenant_id, facility_id) references app.facilities (tenant_id, id),
    foreign key (tenant_id, facility_id, ward_id) references app.wards (tenant_id, facility_id, id)
);
create index escalations_facility_time on app.escalations (tenant_id, facility_id, raised_at);
create index escalations_observation
    on app.escalations (tenant_id, observation_id, patient_id, facility_id);
create index escalations_patient on app.escalations (tenant_id, patient_id);
create index escalations_ward on app.escalations (tenant_id, facility_id, ward_id);

-- One charge per admission and facility-local service date: accrual can run twice, or twice at
-- once, and change nothing.
create table app.bed_days (
    tenant_id    uuid          not null,
    id           uuid          not null default gen_random_uuid(),
    admission_id uuid          not null,
    facility_id  uuid          not null,
    ward_id      uuid          not null,
    bed_id       uuid          not null,
    service_date date          not null,
    rate         numeric(12,2) not null,
    currency     text          not null,
    accrued_at   timestamptz   not null,
    primary key (tenant_id, id),
    constraint bed_days_once_per_admission_day unique (tenant_id, admission_id, service_date),
    foreign key (tenant_id, admission_id) references app.admissions (tenant_id, id),
    foreign key (tenant_id, facility_id, ward_id) references app.wards (tenant_id, facility_id, id),
    foreign key (tenant_id, ward_id, bed_id) references app.beds (tenant_id, ward_id, id)
);
create index bed_days_facility_date on app.bed_days (tenant_id, facility_id, service_date);
create index bed_days_ward_bed on app.bed_days (tenant_id, ward_id, bed_id);
-- Supports the foreign key to wards (a ward's deletion or re-keying looks its charges up).
create index bed_days_facility_ward on app.bed_days (tenant_id, facility_id, ward_id);

-- How far each facility's bed-day accrual has run (see policies/bed_days.sql): a run charges
-- the dates after accrued_through, and its lock on the row makes concurrent runs take turns.
create table app.bed_day_watermarks (
    tenant_id       uuid        not null,
    facility_id     uuid        not null,
    accrued_through date,         -- null until the first run
    accrued_at      timestamptz,  -- the request clock of the run that last advanced it
    primary key (tenant_id, facility_id),
    foreign key (tenant_id, facility_id) references app.facilities (tenant_id, id)
);
