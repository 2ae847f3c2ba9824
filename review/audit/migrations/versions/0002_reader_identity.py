"""Who made each read (the identity token's issuer and subject, name and e-mail), and no way to change a read.

Reads stored before sign-in existed keep empty reader columns: nobody can say now who made them.
Triggers refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE, so the trail stays append-only whatever
client writes to it.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

READER_COLUMNS = ("reader_subject", "reader_issuer", "reader_name", "reader_email")
REFUSAL = "the audit trail is append-only"


def upgrade() -> None:
    for name in READER_COLUMNS:
        op.add_column("reads", sa.Column(name, sa.Text, nullable=False, server_default=""))
    op.create_index("reads_by_reader", "reads", ["reader_issuer", "reader_subject"])
    if op.get_bind().dialect.name == "sqlite":
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER reads_no_{event.lower()} BEFORE {event} ON reads "
                f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION reads_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{REFUSAL}'; END $$"
    )
    op.execute(
        "CREATE TRIGGER reads_no_change BEFORE UPDATE OR DELETE ON reads "
        "FOR EACH ROW EXECUTE FUNCTION reads_append_only()"
    )
    op.execute(
        "CREATE TRIGGER reads_no_truncate BEFORE TRUNCATE ON reads "
        "FOR EACH STATEMENT EXECUTE FUNCTION reads_append_only()"
    )


def downgrade() -> None:
    raise NotImplementedError("The audit trail is append-only: a downgrade could lose reads.")
