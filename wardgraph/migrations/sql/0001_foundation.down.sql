-- A downgrade removes what its upgrade added, data included: it is for backing a release out
-- before anything depends on it, never for a live system in use.
-- squawk-ignore-file ban-drop-schema
-- Undo 0001: the schemas and everything in them. Roles are cluster-wide and may serve other
-- databases, so they are dropped by wardgraph/migrations/apply.py only when nothing else uses them.
drop schema if exists auth cascade;
drop schema if exists app cascade;
drop schema if exists platform cascade;
