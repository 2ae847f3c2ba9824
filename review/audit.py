"""The audit trail: each clinician's own read of an image, next to what the model said.

Entries live in a local SQLite file so a review survives the browser session
and can be exported. The file is never recreated or repaired here: a damaged
or foreign database raises AuditStoreError and is left exactly as it was,
because silently starting a fresh file would lose earlier reads. One this
process may not write (a read-only file, folder or mount, or another
program's lock) is opened for reading only, so the earlier reads stay in view.
"""
from __future__ import annotations

import csv
import io
import os
import sqlite3
import time
from contextlib import closing
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from model.errors import AuditStoreError

AUDIT_DB_ENV = "XRAY_AUDIT_DB"
DEFAULT_AUDIT_DB = Path.home() / ".xray_review" / "audit.sqlite3"
READS = ("agree", "disagree", "unsure")
MAX_NOTE_CHARS = 2000
SCHEMA_VERSION = 1
BUSY_TIMEOUT_SECONDS = 5.0
WAL_RETRY_SECONDS = 0.02
# mode=ro still sees what a writer has not yet checkpointed, but needs the WAL's shared-memory file;
# where SQLite can neither find nor create it (a read-only folder), immutable=1 reads the main file alone.
READ_ONLY_OPENINGS = ("mode=ro", "immutable=1")
# Cells that start like this run as formulas when the CSV is opened in a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

SCHEMA = """
CREATE TABLE reads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT NOT NULL,
    image_sha256 TEXT NOT NULL,
    file_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    probability REAL NOT NULL,
    threshold REAL NOT NULL,
    model_label TEXT NOT NULL,
    clinician_read TEXT NOT NULL CHECK (clinician_read IN ('agree', 'disagree', 'unsure')),
    note TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class AuditEntry:
    """One recorded review; probability is the calibrated probability of pneumonia."""

    id: int
    recorded_at: str
    image_sha256: str
    file_name: str
    model_version: str
    probability: float
    threshold: float
    model_label: str
    clinician_read: str
    note: str


ENTRY_FIELDS = tuple(f.name for f in fields(AuditEntry))


def default_audit_path() -> Path:
    """XRAY_AUDIT_DB when set, else a file in the user's home that outlives the app's folder."""
    return Path(os.environ.get(AUDIT_DB_ENV, DEFAULT_AUDIT_DB)).expanduser()


def note_problem(note: str) -> str:
    """Why `note` cannot be stored, or "" when it can; the page asks first, so a refused note stays to be shortened."""
    if len(note) <= MAX_NOTE_CHARS:
        return ""
    return (
        f"The note is {len(note):,} characters long; the limit is {MAX_NOTE_CHARS:,}. "
        "Shorten it and save again: nothing was saved."
    )


def _code(error: sqlite3.Error) -> str:
    """SQLite's own name for the error ("SQLITE_READONLY_DIRECTORY"), "" for errors raised by the sqlite3 module."""
    return getattr(error, "sqlite_errorname", None) or ""


def _blocks_writing(error: sqlite3.Error) -> bool:
    """The file may be readable although this process cannot write it now: read-only, or locked by a writer."""
    return _code(error).startswith(("SQLITE_READONLY", "SQLITE_BUSY"))


def _explain(error: sqlite3.Error, path: Path) -> AuditStoreError:
    text = str(error).lower()
    if _code(error).startswith("SQLITE_READONLY"):
        return AuditStoreError(
            f"The audit database {path} is read-only for this app ({error}): earlier reads can be viewed, "
            f"new ones cannot be saved. Allow writing to the file and its folder, or set {AUDIT_DB_ENV} to "
            "a writable file."
        )
    if "locked" in text or "busy" in text:
        return AuditStoreError(
            f"The audit database {path} is busy (another program holds a lock on it); nothing was changed. "
            "Try again in a moment."
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return AuditStoreError(
            f"The audit database {path} is damaged or is not an audit database; it was left untouched. "
            f"Move it aside (keep it: it may hold earlier reads) or set {AUDIT_DB_ENV} to another file."
        )
    return AuditStoreError(f"The audit database {path} cannot be used ({error}); nothing was changed.")


class AuditStore:
    """Reads and writes of one audit database file; a connection per call, so any thread may use it.

    read_only_reason says why the file could only be opened for reading ("" when it could be written);
    record() still tries, and SQLite says whether the write goes through.
    """

    def __init__(self, path: str | Path | None = None, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.path = Path(path) if path is not None else default_audit_path()
        self.busy_timeout = busy_timeout
        self.read_only_reason = ""
        self._read_only_uri: str | None = None
        self._prepare()

    def _switch_to_wal(self, connection: sqlite3.Connection) -> None:
        """Put the file in WAL mode, waiting up to the busy timeout.

        SQLite answers "database is locked" at once, without its busy handler,
        when another process holds a lock while this one changes the journal
        mode (two sessions opening a new file together did so), so the wait
        is done here.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error).lower() or time.monotonic() >= deadline:
                    raise
                time.sleep(WAL_RETRY_SECONDS)

    def _connect(self, for_writing: bool = False) -> sqlite3.Connection:
        """Writes always open the file itself; reads use the read-only opening when that is all that worked."""
        read_only = self._read_only_uri is not None and not for_writing
        target = self._read_only_uri if read_only else self.path
        try:
            connection = sqlite3.connect(target, uri=read_only, timeout=self.busy_timeout, isolation_level=None)
        except sqlite3.Error as error:
            raise _explain(error, self.path) from error
        return connection

    def _schema_version(self, connection: sqlite3.Connection) -> int:
        """Ours (SCHEMA_VERSION) or 0 for an empty file; anything else is refused untouched."""
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if version != SCHEMA_VERSION and (version != 0 or tables != 0):
            raise AuditStoreError(
                f"{self.path} is a SQLite database of another program or format (schema version {version}); "
                f"it was left untouched. Set {AUDIT_DB_ENV} to another file."
            )
        return version

    def _check_writable(self, connection: sqlite3.Connection) -> None:
        """A write that changes nothing, rolled back: SQLite itself says whether this process may write.

        Permission bits cannot tell (root ignores them, a read-only mount or
        another program's lock does not show in them).
        """
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("DELETE FROM reads WHERE 0")
        finally:
            connection.execute("ROLLBACK")

    def _prepare(self) -> None:
        """Create the table in a new or empty file; refuse anything else that is not ours.

        The version is read again inside the write lock: two processes may
        open a new file at once, and only one may create the table. A file
        this process cannot write is opened for reading instead.
        """
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AuditStoreError(f"The folder for the audit database {self.path} cannot be created ({error}).") from error
        if self.path.is_dir():
            raise AuditStoreError(f"The audit database path {self.path} is a folder, not a file.")
        with closing(self._connect(for_writing=True)) as connection:
            try:
                version = self._schema_version(connection)
                self._switch_to_wal(connection)
                if version == SCHEMA_VERSION:
                    self._check_writable(connection)
                    return
                connection.execute("BEGIN IMMEDIATE")
                if connection.execute("PRAGMA user_version").fetchone()[0] == 0:
                    connection.execute(SCHEMA)
                    connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
                connection.execute("COMMIT")
                return
            except sqlite3.Error as error:
                if not (_blocks_writing(error) and self.path.is_file()):
                    raise _explain(error, self.path) from error
                reason = _explain(error, self.path)
        self._open_for_reading(reason)

    def _open_for_reading(self, reason: AuditStoreError) -> None:
        """Keep the earlier reads viewable in a file this process cannot write; `reason` says why."""
        for opening in READ_ONLY_OPENINGS:
            uri = f"{self.path.absolute().as_uri()}?{opening}"
            try:
                with closing(sqlite3.connect(uri, uri=True, timeout=self.busy_timeout)) as connection:
                    version = self._schema_version(connection)
            except sqlite3.Error as error:
                if _blocks_writing(error) and opening != READ_ONLY_OPENINGS[-1]:
                    continue
                raise _explain(error, self.path) from error
            if version != SCHEMA_VERSION:
                raise reason  # an empty file that cannot be set up holds no reads to show
            self._read_only_uri, self.read_only_reason = uri, str(reason)
            return

    def record(
        self,
        *,
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
            "image_sha256": image_sha256,
            "file_name": file_name,
            "model_version": model_version,
            "probability": float(probability),
            "threshold": float(threshold),
            "model_label": model_label,
            "clinician_read": clinician_read,
            "note": note,
        }
        columns = ", ".join(values)
        placeholders = ", ".join(f":{name}" for name in values)
        with closing(self._connect(for_writing=True)) as connection:
            try:
                connection.execute("PRAGMA synchronous=FULL")
                connection.execute("BEGIN IMMEDIATE")
                cursor = connection.execute(f"INSERT INTO reads ({columns}) VALUES ({placeholders})", values)
                connection.execute("COMMIT")
            except sqlite3.Error as error:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise _explain(error, self.path) from error
        return AuditEntry(id=int(cursor.lastrowid), **values)

    def entries(self) -> list[AuditEntry]:
        """Every read, oldest first."""
        with closing(self._connect()) as connection:
            try:
                rows = connection.execute(f"SELECT {', '.join(ENTRY_FIELDS)} FROM reads ORDER BY id").fetchall()
            except sqlite3.Error as error:
                raise _explain(error, self.path) from error
        return [AuditEntry(*row) for row in rows]

    def export_csv(self) -> bytes:
        """All reads as UTF-8 CSV for a download button."""
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=ENTRY_FIELDS)
        writer.writeheader()
        for entry in self.entries():
            writer.writerow({key: _spreadsheet_safe(value) for key, value in asdict(entry).items()})
        return buffer.getvalue().encode("utf-8")


def _spreadsheet_safe(value: object) -> object:
    """Free text that a spreadsheet would run as a formula is prefixed with a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value
