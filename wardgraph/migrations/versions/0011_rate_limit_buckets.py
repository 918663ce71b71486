"""Rate-limit buckets: one token bucket per caller in PostgreSQL, shared by every API process.

Revision ID: 0011_rate_limit_buckets
Revises: 0008_discharge_undone
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0011_rate_limit_buckets"
down_revision = "0008_discharge_undone"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0011_rate_limit_buckets.up.sql")


def downgrade() -> None:
    run_sql_file("0011_rate_limit_buckets.down.sql")
