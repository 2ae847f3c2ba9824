"""The reads table as the first release wrote it (SQLite, PRAGMA user_version 1).

A SQLite trail written before migrations existed is stamped at this revision, not created again.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", sa.Text, nullable=False),
        sa.Column("image_sha256", sa.Text, nullable=False),
        sa.Column("file_name", sa.Text, nullable=False),
        sa.Column("model_version", sa.Text, nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("model_label", sa.Text, nullable=False),
        sa.Column("clinician_read", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.CheckConstraint("clinician_read IN ('agree', 'disagree', 'unsure')", name="reads_clinician_read"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    raise NotImplementedError("The audit trail is append-only: a downgrade could lose reads.")
