-- 0003 audit schema: where DBAs and auditors read the rules in force, from psql. It holds views
-- over the catalog only (no tenant data), defined in wardgraph/policies/audit_matrix.sql.
create schema audit;
