-- 0006 admitted facilities: each patient stores the facilities it was ever admitted to. Staff
-- and partners see a patient registered at, or ever admitted to, one of their facilities; the
-- policies used to find the second half with a subquery over app.admissions for every
-- candidate row, which read every admission of the caller's facilities on each search. Now
-- they compare this array with the claims. app.track_admitted_facilities()
-- (policies/admissions.sql) keeps it as admissions are written; this backfills the history.

-- LONG EXCLUSIVE LOCK. Adding the column with a constant default is quick (no rewrite since
-- PostgreSQL 11), but it takes ACCESS EXCLUSIVE on app.patients until the migration commits, and
-- the backfill below writes a new version of every admitted patient's row meanwhile: requests
-- that touch patients wait for a time that grows with the admissions on record. Run it as 0005:
-- at a quiet hour, the API left running, retried if the lock is not granted within
-- WARDGRAPH_MIGRATION_LOCK_TIMEOUT; time it first on a restored copy.
alter table app.patients add column admitted_facility_ids uuid[] not null default '{}';

update app.patients p
set admitted_facility_ids = a.facility_ids
from (select tenant_id, patient_id, array_agg(distinct facility_id) as facility_ids
      from app.admissions
      group by tenant_id, patient_id) a
where a.tenant_id = p.tenant_id and a.patient_id = p.id;
