-- A downgrade removes what its upgrade added: for backing a release out before anything depends
-- on it, never for a live system in use. PostgreSQL cannot drop one value of an enum, so the type
-- is made again without it, and app.bed_days is rewritten under an ACCESS EXCLUSIVE lock (run it
-- at a quiet hour, as the 0007 migration says). A reversal that cited `discharge_undone` cites
-- `discharge_backdated`, the earlier release's nearest reason (both correct a discharge); the
-- ledger's arithmetic does not read the reason, so every net stays as it was.
--
-- The functions whose signature or body names the type come from this release's policy files,
-- which an earlier release's files replace: drop them first (the type cannot go while they
-- depend on it). The earlier release's upgrade to its head makes them again. The old type is
-- renamed, then dropped once no column uses it: no client of this schema names it.
-- squawk-ignore-file renaming-object, ban-drop-type, ban-drop-function, changing-column-type
drop trigger if exists admissions_reconcile_bed_days_on_undo on app.admissions;
drop function if exists app.reconcile_bed_days_on_undo();
drop function if exists app.reconcile_bed_days(uuid, uuid, timestamptz, timestamptz,
                                               app.bed_day_reversal_reason);

alter type app.bed_day_reversal_reason rename to bed_day_reversal_reason_0008;
create type app.bed_day_reversal_reason as enum ('discharge_backdated', 'transfer_backdated');
alter table app.bed_days
    alter column reason type app.bed_day_reversal_reason
    using (case reason::text when 'discharge_undone' then 'discharge_backdated'
                             else reason::text end)::app.bed_day_reversal_reason;
drop type app.bed_day_reversal_reason_0008;
