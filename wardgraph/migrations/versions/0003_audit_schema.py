"""Audit schema: views over the catalog that show DBAs and auditors the rules in force.

Revision ID: 0003_audit_schema
Revises: 0002_clinical
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0003_audit_schema"
down_revision = "0002_clinical"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0003_audit_schema.up.sql")


def downgrade() -> None:
    run_sql_file("0003_audit_schema.down.sql")
