"""Rate-limit buckets: one token bucket per caller in PostgreSQL, shared by every API process.

Revision ID: 0011_rate_limit_buckets
Revises: 0006_admitted_facilities
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0011_rate_limit_buckets"
down_revision = "0006_admitted_facilities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0011_rate_limit_buckets.up.sql")


def downgrade() -> None:
    run_sql_file("0011_rate_limit_buckets.down.sql")
