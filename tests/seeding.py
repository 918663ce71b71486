"""A large, realistic dataset seeded with set-based SQL as the superuser: tenants, facilities,
wards, beds, nurses, patients, admissions with their bed stays, and observations scored with
NEWS2. Shared by the query-plan tests (a moderate dataset) and the benchmark (a million
observations across a hundred tenants).

Ids are derived from the shape (md5 of the seed's name and the row's position), so each table's
rows are generated on their own, with no look-ups between statements. Triggers and foreign-key
checks are off while seeding (session_replication_role = replica): the statements build
consistent rows themselves, number the admissions as the trigger would, fill the admission
counters so that later admissions continue the numbering, and store on each patient the
facilities it was admitted to, as app.track_admitted_facilities() would.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import asyncpg

from wardgraph.news2 import Consciousness, Vitals, score

FAMILY_NAMES = ("Ahmed", "Akter", "Begum", "Chowdhury", "Das", "Hossain", "Islam", "Khan",
                "Mahmud", "Miah", "Nahar", "Rahman", "Roy", "Saha", "Sarker", "Sultana",
                "Talukder", "Uddin", "Haque", "Karim")
GIVEN_NAMES = ("Abdul", "Amina", "Farhan", "Fatema", "Habib", "Jannat", "Karim", "Laila",
               "Nusrat", "Rafiq", "Rina", "Sadia", "Shahid", "Tania", "Yusuf", "Zara")

# The vital signs observations cycle through, from normal to a red score and high risk.
C = Consciousness
VITAL_SETS = (
    Vitals(16, 97, False, 120, 72, C.ALERT, Decimal("37.0")),
    Vitals(18, 96, False, 112, 88, C.ALERT, Decimal("37.4")),
    Vitals(22, 95, False, 105, 95, C.ALERT, Decimal("37.9")),
    Vitals(14, 98, False, 135, 64, C.ALERT, Decimal("36.6")),
    Vitals(24, 93, True, 100, 115, C.ALERT, Decimal("38.4")),
    Vitals(20, 94, False, 98, 104, C.ALERT, Decimal("38.1")),
    Vitals(14, 96, False, 130, 80, C.VOICE, Decimal("36.8")),
    Vitals(30, 88, True, 85, 140, C.PAIN, Decimal("39.6")),
)


@dataclass(frozen=True)
class Shape:
    """How much to seed: tenants x facilities x wards x beds, patients per facility and
    observations per patient. `occupied` is the share of each ward's beds holding an active
    admission; the other patients had one admission, discharged."""

    name: str
    tenants: int = 100
    facilities: int = 2
    wards: int = 2
    beds: int = 25
    patients: int = 200
    observations: int = 25
    occupied: float = 0.9

    @property
    def total_observations(self) -> int:
        return self.tenants * self.facilities * self.patients * self.observations

    def occupied_beds(self) -> int:
        return round(self.beds * self.occupied)


def seed_id(*parts: object) -> UUID:
    """The id the seed gives a row: md5 of its parts joined by ':', as the SQL computes it."""
    return UUID(hashlib.md5(":".join(str(p) for p in parts).encode()).hexdigest())  # noqa: S324


# $1 is the seed's name throughout; md5(concat_ws(':', ...))::uuid is the row's id (seed_id).
TENANTS = """
insert into platform.tenants (tenant_id, slug, name)
select md5(concat_ws(':', $1::text, 'tenant', t))::uuid, $1 || '-' || t, 'Seeded tenant ' || t
from generate_series(1, $2::int) t
"""

FACILITIES = """
insert into app.facilities (tenant_id, id, code, name, timezone)
select md5(concat_ws(':', $1::text, 'tenant', t))::uuid,
       md5(concat_ws(':', $1::text, 'facility', t, f))::uuid,
       'F' || f, 'Facility ' || f, 'Asia/Dhaka'
from generate_series(1, $2::int) t, generate_series(1, $3::int) f
"""

WARDS = """
insert into app.wards (tenant_id, id, facility_id, name, daily_rate)
select md5(concat_ws(':', $1::text, 'tenant', t))::uuid,
       md5(concat_ws(':', $1::text, 'ward', t, f, w))::uuid,
       md5(concat_ws(':', $1::text, 'facility', t, f))::uuid,
       'Ward ' || w, 250.00
from generate_series(1, $2::int) t, generate_series(1, $3::int) f, generate_series(1, $4::int) w
"""

BEDS = """
insert into app.beds (tenant_id, id, facility_id, ward_id, label)
select md5(concat_ws(':', $1::text, 'tenant', t))::uuid,
       md5(concat_ws(':', $1::text, 'bed', t, f, w, b))::uuid,
       md5(concat_ws(':', $1::text, 'facility', t, f))::uuid,
       md5(concat_ws(':', $1::text, 'ward', t, f, w))::uuid,
       'B-' || lpad(b::text, 3, '0')
from generate_series(1, $2::int) t, generate_series(1, $3::int) f,
     generate_series(1, $4::int) w, generate_series(1, $5::int) b
"""

# One admin per tenant and one nurse per facility.
USERS = """
insert into app.users (tenant_id, id, email, display_name, role)
select md5(concat_ws(':', $1::text, 'tenant', t))::uuid,
       md5(concat_ws(':', $1::text, 'admin', t))::uuid,
       'admin@' || $1 || '-' || t || '.example', 'Admin', 'ADMIN'::app.user_role
from generate_series(1, $2::int) t
union all
select md5(concat_ws(':', $1::text, 'tenant', t))::uuid,
       md5(concat_ws(':', $1::text, 'nurse', t, f))::uuid,
       'nurse' || f || '@' || $1 || '-' || t || '.example', 'Nurse ' || f, 'NURSE'::app.user_role
from generate_series(1, $2::int) t, generate_series(1, $3::int) f
"""

USER_FACILITIES = """
insert into app.user_facilities (tenant_id, user_id, facility_id)
select md5(concat_ws(':', $1::text, 'tenant', t))::uuid,
       md5(concat_ws(':', $1::text, 'nurse', t, f))::uuid,
       md5(concat_ws(':', $1::text, 'facility', t, f))::uuid
from generate_series(1, $2::int) t, generate_series(1, $3::int) f
"""

# After the admissions (foreign keys are not checked while seeding): each patient's admitted
# facilities are read from the admissions, in one pass.
PATIENTS = """
insert into app.patients (tenant_id, id, facility_id, mrn, given_name, family_name, birth_date,
                          admitted_facility_ids)
select ids.tenant_id, ids.patient_id, ids.facility_id,
       'F' || f || '-' || lpad(p::text, 6, '0'),
       ($5::text[])[1 + (p * 7 + f) % cardinality($5::text[])],
       ($6::text[])[1 + p % cardinality($6::text[])],
       date '1935-01-01' + (p * 97 + t * 13) % 25000,
       coalesce(admitted.facility_ids, '{}')
from generate_series(1, $2::int) t, generate_series(1, $3::int) f, generate_series(1, $4::int) p,
     lateral (select md5(concat_ws(':', $1::text, 'tenant', t))::uuid as tenant_id,
                     md5(concat_ws(':', $1::text, 'patient', t, f, p))::uuid as patient_id,
                     md5(concat_ws(':', $1::text, 'facility', t, f))::uuid as facility_id) ids
left join (select a.tenant_id, a.patient_id, array_agg(distinct a.facility_id) as facility_ids
           from app.admissions a group by a.tenant_id, a.patient_id) admitted
    on admitted.tenant_id = ids.tenant_id and admitted.patient_id = ids.patient_id
"""

# Patient p of a facility lies in bed slot (p - 1) mod (wards x beds), in round
# (p - 1) div (wards x beds). Round 0 in an occupied bed is admitted now; everyone else was
# admitted and discharged, each round ten days before the next, so no bed holds two at once.
PLACEMENT = """
select t, f, p,
       md5(concat_ws(':', $1::text, 'tenant', t))::uuid as tenant_id,
       md5(concat_ws(':', $1::text, 'facility', t, f))::uuid as facility_id,
       md5(concat_ws(':', $1::text, 'patient', t, f, p))::uuid as patient_id,
       md5(concat_ws(':', $1::text, 'admission', t, f, p))::uuid as admission_id,
       md5(concat_ws(':', $1::text, 'ward', t, f, slot / $5::int + 1))::uuid as ward_id,
       md5(concat_ws(':', $1::text, 'bed', t, f, slot / $5::int + 1,
                     slot % $5::int + 1))::uuid as bed_id,
       active,
       case when active then $8::timestamptz - interval '3 days' + (p % 97) * interval '1 minute'
            else $8::timestamptz - (round + 2) * interval '10 days' end as admitted_at,
       case when active then null
            else $8::timestamptz - (round + 2) * interval '10 days' + interval '5 days'
       end as discharged_at
from generate_series(1, $2::int) t, generate_series(1, $3::int) f, generate_series(1, $6::int) p,
     lateral (select (p - 1) % ($4::int * $5::int) as slot,
                     (p - 1) / ($4::int * $5::int) as round) s,
     lateral (select s.round = 0 and s.slot % $5::int < $7::int as active) a
"""

ADMISSIONS = f"""
insert into app.admissions (tenant_id, id, facility_id, patient_id, bed_id, number, admitted_at,
                            discharged_at, status, admitted_by)
select tenant_id, admission_id, facility_id, patient_id, bed_id,
       'F' || f || '-' || extract(year from $8::timestamptz at time zone 'Asia/Dhaka')::int
           || '-' || lpad(p::text, 6, '0'),
       admitted_at, discharged_at,
       (case when active then 'ACTIVE' else 'DISCHARGED' end)::app.admission_status,
       md5(concat_ws(':', $1::text, 'nurse', t, f))::uuid
from ({PLACEMENT}) placed
"""

BED_STAYS = f"""
insert into app.bed_stays (tenant_id, id, admission_id, facility_id, patient_id, ward_id, bed_id,
                           started_at, ended_at)
select tenant_id, md5(concat_ws(':', $1::text, 'stay', t, f, p))::uuid, admission_id,
       facility_id, patient_id, ward_id, bed_id, admitted_at, discharged_at
from ({PLACEMENT}) placed
"""

# Numbers continue after the seeded ones (p is at most the patients per facility).
ADMISSION_COUNTERS = """
insert into app.admission_counters (tenant_id, facility_id, year, last_number)
select md5(concat_ws(':', $1::text, 'tenant', t))::uuid,
       md5(concat_ws(':', $1::text, 'facility', t, f))::uuid,
       extract(year from $5::timestamptz at time zone 'Asia/Dhaka')::int, $4
from generate_series(1, $2::int) t, generate_series(1, $3::int) f
"""

# Observation i of a patient is taken at i / (n + 1) of the way through the admission (to now
# for an active one), in its ward, with vital set (i + p) mod the number of sets.
OBSERVATIONS = """
insert into app.observations (
    tenant_id, patient_id, facility_id, admission_id, ward_id, recorded_at, recorded_by_user,
    respiration_rate, spo2, on_oxygen, systolic_bp, pulse, consciousness, temperature,
    spo2_scale, news2_total, news2_risk, news2_red_score)
select s.tenant_id, s.patient_id, s.facility_id, s.admission_id, s.ward_id,
       s.started_at + (coalesce(s.ended_at, $3::timestamptz) - s.started_at) * i / ($2 + 1),
       a.admitted_by,
       ($4::int[])[k], ($5::int[])[k], ($6::boolean[])[k], ($7::int[])[k], ($8::int[])[k],
       ($9::text[])[k]::app.consciousness, ($10::numeric[])[k], 1, ($11::int[])[k],
       ($12::text[])[k]::app.news2_risk, ($13::boolean[])[k]
from app.bed_stays s
join app.admissions a on a.tenant_id = s.tenant_id and a.id = s.admission_id
cross join generate_series(1, $2::int) i
cross join lateral (
    select 1 + (i + (hashtext(s.patient_id::text) & 2147483647)) % cardinality($4::int[])
        as k) v
where s.tenant_id = any ($1::uuid[])
"""

ANALYZE = ("analyze platform.tenants, app.facilities, app.wards, app.beds, app.users, "
           "app.user_facilities, app.patients, app.admissions, app.bed_stays, "
           "app.admission_counters, app.observations")


@dataclass(frozen=True)
class Seeded:
    shape: Shape
    tenant_ids: list[UUID]
    seconds: float

    def facility_id(self, tenant: int, facility: int) -> UUID:
        return seed_id(self.shape.name, "facility", tenant, facility)

    def ward_id(self, tenant: int, facility: int, ward: int) -> UUID:
        return seed_id(self.shape.name, "ward", tenant, facility, ward)

    def nurse_id(self, tenant: int, facility: int) -> UUID:
        return seed_id(self.shape.name, "nurse", tenant, facility)

    def patient_id(self, tenant: int, facility: int, patient: int) -> UUID:
        return seed_id(self.shape.name, "patient", tenant, facility, patient)

    def tenant_id(self, tenant: int) -> UUID:
        return seed_id(self.shape.name, "tenant", tenant)


def vital_arrays() -> list[list[object]]:
    """The VITAL_SETS column by column, with their NEWS2 score on scale 1, as the statement's
    array parameters $4-$13."""
    scores = [score(v) for v in VITAL_SETS]
    return [
        [v.respiration_rate for v in VITAL_SETS], [v.spo2 for v in VITAL_SETS],
        [v.on_oxygen for v in VITAL_SETS], [v.systolic_bp for v in VITAL_SETS],
        [v.pulse for v in VITAL_SETS], [v.consciousness.value for v in VITAL_SETS],
        [v.temperature for v in VITAL_SETS], [s.total for s in scores],
        [s.risk.value for s in scores], [s.red_score for s in scores],
    ]


async def seed(connection: asyncpg.Connection, shape: Shape,
               now: datetime | None = None) -> Seeded:
    """Seed `shape` in one transaction, then ANALYZE. `connection` is a superuser's."""
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    n, t, f = shape.name, shape.tenants, shape.facilities
    tenant_ids = [seed_id(n, "tenant", i) for i in range(1, t + 1)]
    async with connection.transaction():
        await connection.execute("set local session_replication_role = replica")
        await connection.execute(TENANTS, n, t)
        await connection.execute(FACILITIES, n, t, f)
        await connection.execute(WARDS, n, t, f, shape.wards)
        await connection.execute(BEDS, n, t, f, shape.wards, shape.beds)
        await connection.execute(USERS, n, t, f)
        await connection.execute(USER_FACILITIES, n, t, f)
        placement = (n, t, f, shape.wards, shape.beds, shape.patients, shape.occupied_beds(),
                     now)
        await connection.execute(ADMISSIONS, *placement)
        await connection.execute(PATIENTS, n, t, f, shape.patients, list(GIVEN_NAMES),
                                 list(FAMILY_NAMES))
        await connection.execute(BED_STAYS, *placement)
        await connection.execute(ADMISSION_COUNTERS, n, t, f, shape.patients, now)
        # In slices of tenants: one statement of a million rows holds a lot of memory.
        for first in range(0, t, 10):
            await connection.execute(OBSERVATIONS, tenant_ids[first:first + 10],
                                     shape.observations, now, *vital_arrays())
    await connection.execute(ANALYZE)
    return Seeded(shape, tenant_ids, time.perf_counter() - started)
