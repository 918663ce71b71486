"""Clinical: admissions and bed stays, admission counters, observations, escalations, bed days.

Revision ID: 0002_clinical
Revises: 0001_foundation
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0002_clinical"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0002_clinical.up.sql")


def downgrade() -> None:
    run_sql_file("0002_clinical.down.sql")
