"""Bed-day ledger: charges are appended, corrected by reversals that cite what they cancel,
never updated or deleted; the constraints keep each admission's net per census instant at 0 or 1.

Revision ID: 0007_bed_day_ledger
Revises: 0006_admitted_facilities
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0007_bed_day_ledger"
down_revision = "0006_admitted_facilities"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0007_bed_day_ledger.up.sql")


def downgrade() -> None:
    run_sql_file("0007_bed_day_ledger.down.sql")
