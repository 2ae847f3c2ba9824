"""The audit trail's table as the code reads and writes it, and how a database is brought to it (Alembic).

The migrations in migrations/versions are the history; this table is their sum, checked against them
by the tests. A database is at one of these states before the app uses it: current; empty (nothing of
ours yet); legacy (a SQLite trail written before migrations existed, PRAGMA user_version 1); behind
(an older revision); or not ours at all (another program's tables, or a newer release's revision).
"""
from __future__ import annotations

from enum import Enum
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Our own name, so the trail can live in a PostgreSQL database that other programs also manage with Alembic.
VERSION_TABLE = "xray_audit_version"
LEGACY_REVISION = "0001"  # what the pre-Alembic SQLite schema (user_version 1) is
LEGACY_USER_VERSION = 1

metadata = sa.MetaData()
reads = sa.Table(
    "reads",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("recorded_at", sa.Text, nullable=False),
    sa.Column("reader_subject", sa.Text, nullable=False),
    sa.Column("reader_issuer", sa.Text, nullable=False),
    sa.Column("reader_name", sa.Text, nullable=False),
    sa.Column("reader_email", sa.Text, nullable=False),
    sa.Column("image_sha256", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("model_label", sa.Text, nullable=False),
    sa.Column("clinician_read", sa.Text, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
)


class SchemaState(Enum):
    CURRENT = "current"
    EMPTY = "empty"
    LEGACY = "legacy"
    BEHIND = "behind"
    FOREIGN = "foreign"
    NEWER = "newer"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """Alembic's settings without an alembic.ini: the scripts beside this module, the connection to use."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    return _scripts().get_current_head()


def schema_state(connection: sa.Connection) -> tuple[SchemaState, str]:
    """Where this database stands, and its revision ("" when it has none)."""
    tables = set(sa.inspect(connection).get_table_names())
    if VERSION_TABLE in tables:
        revisions = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_heads()
        revision = revisions[0] if len(revisions) == 1 else ",".join(revisions)
        if revision == head_revision():
            return SchemaState.CURRENT, revision
        known = {script.revision for script in _scripts().walk_revisions()}
        return (SchemaState.BEHIND if revision in known else SchemaState.NEWER), revision
    if reads.name not in tables:
        # SQLite: nothing at all may be there; a server database may hold other programs' tables beside ours.
        is_sqlite = connection.dialect.name == "sqlite"
        return (SchemaState.FOREIGN if is_sqlite and tables else SchemaState.EMPTY), ""
    if connection.dialect.name == "sqlite":
        user_version = connection.exec_driver_sql("PRAGMA user_version").scalar()
        if user_version == LEGACY_USER_VERSION:
            return SchemaState.LEGACY, ""
    return SchemaState.FOREIGN, ""


def upgrade(connection: sa.Connection) -> None:
    """Bring an empty, legacy or older database to the head revision, inside the caller's transaction.

    A legacy SQLite trail is stamped at the revision its schema is, so its rows stay where they are
    and only the later migrations run.
    """
    state, _ = schema_state(connection)
    config = alembic_config(connection)
    if state is SchemaState.LEGACY:
        command.stamp(config, LEGACY_REVISION)
    if state in (SchemaState.EMPTY, SchemaState.LEGACY, SchemaState.BEHIND):
        command.upgrade(config, "head")
