"""Admitted facilities: each patient stores the facilities it was ever admitted to, so that
the visibility policies compare an array with the claims instead of searching the admissions.

Revision ID: 0006_admitted_facilities
Revises: 0005_patient_name_keys
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0006_admitted_facilities"
down_revision = "0005_patient_name_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0006_admitted_facilities.up.sql")


def downgrade() -> None:
    run_sql_file("0006_admitted_facilities.down.sql")
