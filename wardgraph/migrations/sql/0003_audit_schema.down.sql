-- Undo 0003: the audit schema and the views in it (they read only the catalog).
drop schema if exists audit cascade;
