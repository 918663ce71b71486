-- Back to escalations without an insertion order; the alert hub of the earlier release does
-- not replay, so nothing else reads these columns.
-- Both columns are this release's own: no earlier release's client reads them.
-- squawk-ignore-file ban-drop-column, require-concurrent-index-deletion
drop index if exists app.escalations_tenant_seq;
alter table app.escalations drop column if exists raised_xact, drop column if exists seq;
