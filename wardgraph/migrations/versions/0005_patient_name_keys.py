"""Patient name keys: lower-cased names stored in byte order, so that an index serves the
patient search under row level security.

Revision ID: 0005_patient_name_keys
Revises: 0004_persisted_queries
"""

from wardgraph.migrations.sql_files import run_sql_file

revision = "0005_patient_name_keys"
down_revision = "0004_persisted_queries"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql_file("0005_patient_name_keys.up.sql")


def downgrade() -> None:
    run_sql_file("0005_patient_name_keys.down.sql")
