-- A downgrade removes what its upgrade added, data included: it is for backing a release out
-- before anything depends on it, never for a live system in use.
-- squawk-ignore-file ban-drop-schema
-- Undo 0003: the audit schema and the views in it (they read only the catalog).
drop schema if exists audit cascade;
