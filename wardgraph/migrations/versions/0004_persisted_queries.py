"""Persisted queries: the deployment's registry of GraphQL operations (APQ and the allow-list).

Revision ID: 0004_persisted_queries
Revises: 0003_audit_schema
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0004_persisted_queries"
down_revision = "0003_audit_schema"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0004_persisted_queries.up.sql")


def downgrade() -> None:
    run_sql_file("0004_persisted_queries.down.sql")
