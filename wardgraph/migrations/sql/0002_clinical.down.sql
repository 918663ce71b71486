-- A downgrade removes what its upgrade added, data included: it is for backing a release out
-- before anything depends on it, never for a live system in use.
-- squawk-ignore-file ban-drop-table, ban-drop-type
drop table if exists app.bed_day_watermarks, app.bed_days, app.escalations, app.observations,
    app.admission_counters, app.bed_stays, app.admissions;
drop type if exists app.news2_risk, app.consciousness, app.admission_status;
