"""Audit per request: one PHI audit event per request, holding the patient ids it touched
(GIN-indexed) and its objects, instead of one event per object; existing events migrated.

Revision ID: 0014_audit_per_request
Revises: 0013_escalation_order
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0014_audit_per_request"
down_revision = "0013_escalation_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0014_audit_per_request.up.sql")


def downgrade() -> None:
    run_sql_file("0014_audit_per_request.down.sql")
