"""Discharge undone: a reason for the reversals appended when an administrator undoes a
discharge.

Revision ID: 0008_discharge_undone
Revises: 0007_bed_day_ledger
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0008_discharge_undone"
down_revision = "0007_bed_day_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0008_discharge_undone.up.sql")


def downgrade() -> None:
    run_sql_file("0008_discharge_undone.down.sql")
