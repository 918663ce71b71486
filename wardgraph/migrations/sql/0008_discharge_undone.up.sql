-- 0008 discharge undone: the reason cited by a reversal that an administrator's undoing of a
-- discharge appends (undoDischarge; app.reconcile_bed_days_on_undo in policies/bed_days.sql).
--
-- ALTER TYPE ... ADD VALUE may run inside the migration's transaction (PostgreSQL 12 and later,
-- so on 15 and 18 alike); only a use of the new value must wait until that transaction commits.
-- Nothing in this migration or in the policy files applied after it uses the value: the one
-- function that names it is PL/pgSQL, whose body is parsed when it first runs. Adding a value
-- takes no lock on app.bed_days and rewrites nothing.
alter type app.bed_day_reversal_reason add value if not exists 'discharge_undone'
    after 'transfer_backdated';
