"""Escalation order: an insertion sequence and the inserting transaction, so live alerts can be
replayed after a reconnect without loss or repetition.

Revision ID: 0013_escalation_order
Revises: 0011_rate_limit_buckets
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0013_escalation_order"
down_revision = "0011_rate_limit_buckets"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0013_escalation_order.up.sql")


def downgrade() -> None:
    run_sql_file("0013_escalation_order.down.sql")
