"""The audit trail: each clinician's own read of an image, next to what the model said and who read it.

SQLAlchemy Core over SQLite (the embedded default, one host) or PostgreSQL (every replica of a
department's app). The store is append-only: there is no update or delete path here, and the
database's triggers refuse them from any client that does not own the table. Nothing is ever
recreated or repaired: a damaged, foreign or newer database raises AuditStoreError and is left as
it was, because starting afresh would lose earlier reads. One this process may not write
(read-only file, folder, mount or database role; another program's lock) is opened for reading
only, so the earlier reads stay in view.
"""
from __future__ import annotations

import csv
import io
import math
import sqlite3
import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from model.errors import AuditStoreError
from review.access import Reader
from review.audit.errors import MIGRATE_COMMAND, READ_ONLY, blocks_writing, explain
from review.audit.schema import LEGACY_REVISION, SchemaState, reads, schema_state, upgrade
from review.audit.settings import AUDIT_DB_ENV, DATABASE_URL_ENV, audit_url, is_server

READS = ("agree", "disagree", "unsure")
MAX_NOTE_CHARS = 2000
BUSY_TIMEOUT_SECONDS = 5.0
WAL_RETRY_SECONDS = 0.02
SERVER_POOL_SIZE = 4
# mode=ro still sees what a writer has not yet checkpointed, but needs the WAL's shared-memory file;
# where SQLite can neither find nor create it (a read-only folder), immutable=1 reads the main file alone.
READ_ONLY_OPENINGS = ("mode=ro", "immutable=1")
# Cells that start like this run as formulas when the CSV is opened in a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
WRITING = {"audit_writing": True}  # execution option: SQLite takes its write lock when the transaction begins


@dataclass(frozen=True)
class AuditEntry:
    """One recorded review; probability is the calibrated probability of pneumonia."""

    id: int
    recorded_at: str
    reader_subject: str
    reader_issuer: str
    reader_name: str
    reader_email: str
    image_sha256: str
    file_name: str
    model_version: str
    probability: float
    threshold: float
    model_label: str
    clinician_read: str
    note: str


ENTRY_FIELDS = tuple(f.name for f in fields(AuditEntry))


def note_problem(note: str) -> str:
    """Why `note` cannot be stored, or "" when it can; the page asks first, so a refused note stays to be shortened."""
    if len(note) <= MAX_NOTE_CHARS:
        return ""
    return (
        f"The note is {len(note):,} characters long; the limit is {MAX_NOTE_CHARS:,}. "
        "Shorten it and save again: nothing was saved."
    )


def _switch_to_wal(connection: sqlite3.Connection, busy_timeout: float) -> None:
    """Put the file in WAL mode, waiting up to the busy timeout.

    SQLite answers "database is locked" at once, without its busy handler, when another process
    holds a lock while this one changes the journal mode (two sessions opening a new file together
    did so), so the wait is done here.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error).lower() or time.monotonic() >= deadline:
                raise
            time.sleep(WAL_RETRY_SECONDS)


def _sqlite_engine(target: str, busy_timeout: float, read_only: bool) -> sa.Engine:
    """A connection per use (no pool), with transactions begun by this module.

    pysqlite would begin transactions itself, too late for SQLite's write lock; here a writing
    transaction starts with BEGIN IMMEDIATE, so two writers queue on the busy timeout instead of failing.
    """
    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(target, uri=read_only, timeout=busy_timeout, isolation_level=None,
                                     check_same_thread=False)
        if not read_only:
            connection.execute("PRAGMA synchronous=FULL")
        return connection

    engine = sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)

    @sa.event.listens_for(engine, "begin")
    def begin(connection: sa.Connection) -> None:
        writing = connection.get_execution_options().get("audit_writing", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


@cache
def _server_engine(url: sa.URL, busy_timeout: float) -> sa.Engine:
    """One pool per server and process, shared by every session; a dead connection is replaced, not used.

    Connecting, waiting for a lock and running a statement are each bounded, so a slow or down server
    gives the page a message in seconds instead of hanging it.
    """
    milliseconds = int(busy_timeout * 1000)
    return sa.create_engine(
        url, pool_pre_ping=True, pool_size=SERVER_POOL_SIZE, pool_timeout=busy_timeout,
        connect_args={
            "connect_timeout": max(2, math.ceil(busy_timeout)),
            "options": f"-c lock_timeout={milliseconds} -c statement_timeout={3 * milliseconds}",
        },
    )


def check_schema(connection: sa.Connection, may_upgrade: bool) -> None:
    """Use the database as it is, migrate it where allowed, or refuse it untouched with what to do."""
    state, revision = schema_state(connection)
    if state is SchemaState.CURRENT:
        return
    if may_upgrade and state in (SchemaState.EMPTY, SchemaState.LEGACY, SchemaState.BEHIND):
        upgrade(connection)
        return
    if state is SchemaState.FOREIGN:
        raise AuditStoreError(
            f"The audit database holds another program's data, not an audit trail; it was left untouched. "
            f"Set {AUDIT_DB_ENV} or {DATABASE_URL_ENV} to another database."
        )
    if state is SchemaState.NEWER:
        raise AuditStoreError(
            f"The audit database was set up by a newer release of this app (revision {revision}); it was left "
            "untouched. Run that release, or one at least as new."
        )
    raise AuditStoreError(
        f"The audit database is not set up for this release (revision {revision or 'none'}); an administrator "
        f"runs `{MIGRATE_COMMAND}` once, then reads can be saved.",
    )


class AuditStore:
    """Reads and writes of one audit database; any thread may use it.

    read_only_reason says why the database could only be opened for reading ("" when it can be
    written); record() still tries, and the database says whether the write goes through.
    """

    def __init__(self, location: str | Path | sa.URL | None = None, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.url = audit_url(location)
        self.busy_timeout = busy_timeout
        self.read_only_reason = ""
        if is_server(self.url):
            self._engine = self._reading_engine = _server_engine(self.url, busy_timeout)
            self._prepare_server()
        else:
            self.path = Path(self.url.database)
            self._engine = self._reading_engine = _sqlite_engine(str(self.path), busy_timeout, read_only=False)
            self._prepare_file()

    def _prepare_file(self) -> None:
        """Create or migrate the SQLite file inside its write lock; refuse anything that is not ours.

        The state is read inside BEGIN IMMEDIATE: two processes may open a new file at once, and only
        one may create the table. A file this process cannot write is opened for reading instead.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AuditStoreError("The folder for the audit database cannot be created.", str(error)) from error
        if self.path.is_dir():
            raise AuditStoreError("The audit database path is a folder, not a file.", str(self.path))
        try:
            with self._engine.connect() as connection:
                with connection.begin():  # a foreign or newer file is refused before anything is written to it
                    state, _ = schema_state(connection)
                if state in (SchemaState.FOREIGN, SchemaState.NEWER):
                    check_schema(connection, may_upgrade=False)
                _switch_to_wal(connection.connection.driver_connection, self.busy_timeout)
                with connection.execution_options(**WRITING).begin():
                    check_schema(connection, may_upgrade=True)
                    connection.exec_driver_sql("DELETE FROM reads WHERE 0")  # SQLite itself says whether we may write
            return
        except (sa.exc.DBAPIError, sqlite3.Error) as error:  # the journal switch speaks sqlite3 directly
            if not (blocks_writing(error) and self.path.is_file()):
                raise explain(error) from error
            reason = explain(error)
        self._open_for_reading(reason)

    def _open_for_reading(self, reason: AuditStoreError) -> None:
        """Keep the earlier reads viewable in a file this process cannot write; `reason` says why."""
        for opening in READ_ONLY_OPENINGS:
            engine = _sqlite_engine(f"{self.path.absolute().as_uri()}?{opening}", self.busy_timeout, read_only=True)
            try:
                with engine.connect() as connection:
                    state, _ = schema_state(connection)
            except sa.exc.DBAPIError as error:
                if blocks_writing(error) and opening != READ_ONLY_OPENINGS[-1]:
                    continue
                raise explain(error) from error
            if state is SchemaState.EMPTY:
                raise reason  # an empty file that cannot be set up holds no reads to show
            if state is not SchemaState.CURRENT:
                raise AuditStoreError(
                    f"{reason} The file is also from an older release and cannot be migrated while it is read-only.",
                    reason.detail,
                )
            self._reading_engine, self.read_only_reason = engine, str(reason)
            return

    def _prepare_server(self) -> None:
        """Check the server's schema (migrations are an administrator's command, never a replica's) and rights."""
        try:
            with self._engine.connect() as connection:
                check_schema(connection, may_upgrade=False)
                may_insert, may_number, read_only = connection.execute(sa.text(
                    "SELECT has_table_privilege(:table, 'INSERT'), "
                    "has_sequence_privilege(pg_get_serial_sequence(:table, 'id'), 'USAGE'), "
                    "current_setting('transaction_read_only')"
                ), {"table": reads.name}).one()
        except sa.exc.DBAPIError as error:
            raise explain(error) from error
        if not (may_insert and may_number) or read_only == "on":
            self.read_only_reason = f"{READ_ONLY} Grant this app's database user INSERT on reads and USAGE on its id " \
                f"sequence, or set {DATABASE_URL_ENV} to a user that has them."

    def record(
        self,
        *,
        reader: Reader,
        image_sha256: str,
        file_name: str,
        model_version: str,
        probability: float,
        threshold: float,
        model_label: str,
        clinician_read: str,
        note: str = "",
    ) -> AuditEntry:
        """Store one read in its own transaction and return it as stored; a note over the limit is refused whole."""
        if clinician_read not in READS:
            raise ValueError(f"clinician_read must be one of {READS}, not {clinician_read!r}.")
        if problem := note_problem(note):
            raise ValueError(problem)
        values = {
            "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "reader_subject": reader.subject,
            "reader_issuer": reader.issuer,
            "reader_name": reader.name,
            "reader_email": reader.email,
            "image_sha256": image_sha256,
            "file_name": file_name,
            "model_version": model_version,
            "probability": float(probability),
            "threshold": float(threshold),
            "model_label": model_label,
            "clinician_read": clinician_read,
            "note": note,
        }
        try:
            with self._engine.connect().execution_options(**WRITING) as connection, connection.begin():
                [entry_id] = connection.execute(reads.insert().values(values)).inserted_primary_key
        except sa.exc.DBAPIError as error:
            raise explain(error) from error
        return AuditEntry(id=int(entry_id), **values)

    def entries(self, by: Reader | None = None) -> list[AuditEntry]:
        """Every read, oldest first; with `by`, only that person's own."""
        query = sa.select(*(reads.c[name] for name in ENTRY_FIELDS)).order_by(reads.c.id)
        if by is not None:
            query = query.where(reads.c.reader_subject == by.subject, reads.c.reader_issuer == by.issuer)
        try:
            with self._reading_engine.connect() as connection:
                rows = connection.execute(query).all()
        except sa.exc.DBAPIError as error:
            raise explain(error) from error
        return [AuditEntry(*row) for row in rows]


def entries_csv(entries: list[AuditEntry]) -> bytes:
    """Reads as UTF-8 CSV, every field, free text a spreadsheet would run as a formula defused."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=ENTRY_FIELDS)
    writer.writeheader()
    for entry in entries:
        writer.writerow({key: _spreadsheet_safe(value) for key, value in asdict(entry).items()})
    return buffer.getvalue().encode("utf-8")


def existing_store(location: str | Path | sa.URL | None = None) -> AuditStore | None:
    """The store, or None while the embedded SQLite file does not exist: merely looking creates no file."""
    url = audit_url(location)
    if not is_server(url) and not Path(url.database).exists():
        return None
    return AuditStore(url)


def migrate(location: str | Path | sa.URL | None = None) -> tuple[str, str]:
    """Bring the configured database to this release's schema in one transaction; (revision before, after).

    On PostgreSQL an advisory lock makes a second `migrate` started at the same moment wait, then find
    nothing to do.
    """
    url = audit_url(location)
    if is_server(url):
        engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})
    else:
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = _sqlite_engine(url.database, BUSY_TIMEOUT_SECONDS, read_only=False)
    try:
        with engine.connect().execution_options(**WRITING) as connection, connection.begin():
            if is_server(url):
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": reads.name})
            state, before = schema_state(connection)
            if state is SchemaState.LEGACY:
                before = f"{LEGACY_REVISION} (a trail written before migrations)"
            check_schema(connection, may_upgrade=True)
            _, after = schema_state(connection)
    except sa.exc.DBAPIError as error:
        raise explain(error) from error
    finally:
        engine.dispose()
    return before, after


def _spreadsheet_safe(value: object) -> object:
    """Free text that a spreadsheet would run as a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
