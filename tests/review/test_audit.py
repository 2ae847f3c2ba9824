"""The audit trail on a real SQLite file and a real PostgreSQL server: concurrent writers, reopening, per-reader
views, append-only, migrating a trail written before migrations existed, and every way the database can refuse."""
from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from model.errors import AuditStoreError
from review.access import READER, Reader, local_reader
from review.audit import AUDIT_DB_ENV, DATABASE_URL_ENV, MAX_NOTE_CHARS, AuditStore, default_audit_path, entries_csv, migrate
from review.audit.schema import VERSION_TABLE, head_revision, metadata, reads
from tests.browser import free_port
from tests.services import VIEWER_PASSWORD, VIEWER_USER, PostgresServer

WRITES_PER_PROCESS = 40
WRITERS = 8
LEGACY_TRAIL = Path(__file__).resolve().parent.parent / "data" / "audit_v1.sqlite3"  # written by the pre-Alembic code
BACKENDS = ("sqlite", "postgresql")
READER_A = Reader(subject="a-123", issuer="https://idp.example", name="Dr A", email="a@example.org", role=READER)
READER_B = Reader(subject="b-456", issuer="https://idp.example", name="Dr B", email="b@example.org", role=READER)
READ_ONLY = ("file", "folder")


def image_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_of(index: int, writer: str = "test") -> dict:
    return {
        "image_sha256": image_sha256(f"{writer}-{index}".encode()),
        "file_name": f"{writer}-{index}.png",
        "model_version": "2026.01.01-abcdef12",
        "probability": index / 100,
        "threshold": 0.42,
        "model_label": "PNEUMONIA" if index / 100 >= 0.42 else "NORMAL",
        "clinician_read": ("agree", "disagree", "unsure")[index % 3],
        "note": f"note {index} from {writer}",
        "reader": READER_A,
    }


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder anyone may write, outside pytest's private temporary one, so without_write_access() reaches it."""
    folder = Path(tempfile.mkdtemp(prefix="xray-audit-"))
    folder.chmod(0o777)
    yield folder
    folder.chmod(0o700)
    shutil.rmtree(folder)


@contextmanager
def without_write_access() -> Iterator[None]:
    """Run the block bound by permission bits: root ignores them, so it acts as "nobody" meanwhile."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(pwd.getpwnam("nobody").pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)


def make_read_only(path: Path, what: str) -> None:
    """Take away the right to write the database file itself, or the folder SQLite keeps its WAL files in."""
    if what == "file":
        path.chmod(0o444)
    else:
        path.parent.chmod(0o555)


def write_many(location: str, writer: str, start: multiprocessing.synchronize.Event) -> None:
    store = AuditStore(location)
    start.wait()
    for index in range(WRITES_PER_PROCESS):
        store.record(**read_of(index, writer))


@pytest.fixture(params=BACKENDS)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty audit trail: a SQLite file, or a migrated database on the tests' PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "nested" / "audit.sqlite3")
    return migrated_database(request.getfixturevalue("postgres"), request.node.name)


def migrated_database(postgres: PostgresServer, test_name: str) -> str:
    name = "audit_" + hashlib.sha256(test_name.encode()).hexdigest()[:16]
    url = postgres.new_database(name)
    migrate(url)
    return url


@pytest.mark.slow  # eight processes importing the project
def test_eight_concurrent_writer_processes_lose_nothing(location):
    AuditStore(location)
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    names = [f"w{number}" for number in range(WRITERS)]
    writers = [context.Process(target=write_many, args=(location, name, start)) for name in names]
    for process in writers:
        process.start()
    start.set()
    for process in writers:
        process.join(120)
    assert [process.exitcode for process in writers] == [0] * WRITERS

    entries = AuditStore(location).entries()
    assert len(entries) == WRITERS * WRITES_PER_PROCESS
    assert len({entry.id for entry in entries}) == len(entries)
    for name in names:
        notes = [entry.note for entry in entries if entry.file_name.startswith(f"{name}-")]
        assert notes == [f"note {index} from {name}" for index in range(WRITES_PER_PROCESS)]


def test_reopening_keeps_every_entry_in_order_with_its_reader(location):
    recorded = [AuditStore(location).record(**read_of(index)) for index in range(5)]
    reopened = AuditStore(location).entries()
    assert reopened == recorded
    assert reopened[0].recorded_at.endswith("+00:00")
    assert reopened[2].clinician_read == "unsure"
    assert (reopened[0].reader_subject, reopened[0].reader_issuer, reopened[0].reader_name, reopened[0].reader_email) == (
        "a-123", "https://idp.example", "Dr A", "a@example.org"
    )


def test_each_reader_sees_only_their_own_reads_and_the_whole_trail_holds_all(location):
    store = AuditStore(location)
    mine = store.record(**read_of(1))
    theirs = store.record(**{**read_of(2), "reader": READER_B})
    same_subject_other_issuer = Reader("a-123", "https://other-idp.example", "Dr A", "", READER)
    assert store.entries(by=READER_A) == [mine]
    assert store.entries(by=READER_B) == [theirs]
    assert store.entries(by=same_subject_other_issuer) == []
    assert store.entries() == [mine, theirs]
    exported = list(csv.DictReader(io.StringIO(entries_csv(store.entries(by=READER_B)).decode("utf-8"))))
    assert [row["reader_subject"] for row in exported] == ["b-456"]


@pytest.mark.parametrize("change", ["UPDATE reads SET note = 'changed'", "DELETE FROM reads"])
def test_the_trail_refuses_changes_to_earlier_reads_whoever_asks(location, change):
    store = AuditStore(location)
    first = store.record(**read_of(1))
    engine = sa.create_engine(location if "://" in location else f"sqlite:///{location}")
    try:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as connection:
            connection.exec_driver_sql(change)
    finally:
        engine.dispose()
    assert store.entries() == [first]


def test_the_table_the_code_uses_is_the_one_the_migrations_build(location):
    AuditStore(location)
    engine = sa.create_engine(location if "://" in location else f"sqlite:///{location}")
    try:
        with engine.connect() as connection:
            built = {column["name"]: column for column in sa.inspect(connection).get_columns(reads.name)}
            revision = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    finally:
        engine.dispose()
    assert set(built) == {column.name for column in metadata.tables[reads.name].columns}
    assert all(built[column.name]["nullable"] == column.nullable for column in reads.columns)
    assert revision == head_revision()


def test_a_trail_written_before_migrations_is_migrated_in_place_without_losing_a_row(tmp_path):
    path = tmp_path / "audit.sqlite3"
    shutil.copyfile(LEGACY_TRAIL, path)
    with closing(sqlite3.connect(path)) as connection:
        before = connection.execute("SELECT * FROM reads ORDER BY id").fetchall()
    assert len(before) == 3
    store = AuditStore(path)
    migrated = store.entries()
    assert [(e.id, e.recorded_at, e.image_sha256, e.file_name, e.model_version, e.probability, e.threshold,
             e.model_label, e.clinician_read, e.note) for e in migrated] == before
    assert {(e.reader_subject, e.reader_name) for e in migrated} == {("", "")}
    added = store.record(**read_of(9))
    assert AuditStore(path).entries() == [*migrated, added]


@pytest.mark.slow  # the command end to end, three times
def test_the_migrate_command_reads_the_settings_and_runs_once(tmp_path, postgres):
    url = postgres.new_database("audit_command")
    environment = {**os.environ, DATABASE_URL_ENV: url}
    command = [sys.executable, "-m", "review.audit", "migrate"]
    first = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    again = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
    assert f"migrated from revision none to {head_revision()}" in first.stdout
    assert "nothing to do" in again.stdout
    assert "app-secret" not in first.stdout + again.stdout
    assert AuditStore(url).record(**read_of(1)).id == 1
    legacy = tmp_path / "legacy.sqlite3"
    shutil.copyfile(LEGACY_TRAIL, legacy)
    upgraded = subprocess.run(command, env={**os.environ, AUDIT_DB_ENV: str(legacy)}, capture_output=True, text=True)
    assert upgraded.returncode == 0
    assert f"from revision 0001 (a trail written before migrations) to {head_revision()}" in upgraded.stdout
    assert len(AuditStore(legacy).entries()) == 3


def test_a_server_database_is_never_migrated_by_the_app_itself(postgres):
    url = postgres.new_database("audit_unmigrated")
    with pytest.raises(AuditStoreError, match="python -m review.audit migrate"):
        AuditStore(url)
    with pytest.raises(AuditStoreError, match="python -m review.audit migrate"):
        AuditStore(url)


@pytest.mark.parametrize(
    ("problem", "message"),
    [("server down", "cannot be reached"), ("wrong password", "refused this app's credentials"),
     ("no such database", "no database of the name")],
)
def test_a_server_that_refuses_gives_a_clear_message_naming_no_server(postgres, problem, message):
    url = migrated_database(postgres, f"refuses {problem}")
    AuditStore(url).record(**read_of(1))
    database = sa.make_url(url).database
    broken = {
        "server down": postgres.url(database, port=free_port()),
        "wrong password": postgres.url(database, password="not-the-password"),
        "no such database": postgres.url("no_such_database"),
    }[problem]
    with pytest.raises(AuditStoreError, match=message) as raised:
        AuditStore(broken)
    assert str(postgres.port) not in str(raised.value) and "127.0.0.1" not in str(raised.value)
    assert raised.value.detail
    assert len(AuditStore(url).entries()) == 1, "nothing lost"


def test_a_read_only_database_role_lists_earlier_reads_and_refuses_new_ones(postgres):
    url = migrated_database(postgres, "read-only role")
    recorded = AuditStore(url).record(**read_of(1))
    postgres.let_viewer_read(sa.make_url(url).database)
    viewer = AuditStore(postgres.url(sa.make_url(url).database, VIEWER_USER, VIEWER_PASSWORD))
    assert "read-only" in viewer.read_only_reason
    assert viewer.entries() == [recorded]
    with pytest.raises(AuditStoreError, match="read-only"):
        viewer.record(**read_of(2))
    assert AuditStore(url).entries() == [recorded]


@pytest.mark.slow  # runs the migrate command
def test_a_server_holding_a_newer_schema_is_refused_untouched(postgres):
    url = migrated_database(postgres, "newer schema")
    postgres.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999'", database=sa.make_url(url).database)
    with pytest.raises(AuditStoreError, match="newer release"):
        AuditStore(url)
    assert subprocess.run([sys.executable, "-m", "review.audit", "migrate"], env={**os.environ, DATABASE_URL_ENV: url},
                          capture_output=True).returncode == 1


def test_a_corrupt_file_raises_and_is_left_untouched(tmp_path):
    path = tmp_path / "audit.sqlite3"
    AuditStore(path).record(**read_of(1))
    damaged = b"this is not a SQLite database " * 200
    path.write_bytes(damaged)
    with pytest.raises(AuditStoreError, match="damaged or is not an audit database"):
        AuditStore(path)
    assert path.read_bytes() == damaged


def test_another_programs_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE patients (name TEXT)")
    before = path.read_bytes()
    with pytest.raises(AuditStoreError, match="another program"):
        AuditStore(path)
    assert path.read_bytes() == before


def test_a_locked_database_raises_a_clear_error_and_keeps_earlier_entries(tmp_path):
    path = tmp_path / "audit.sqlite3"
    store = AuditStore(path, busy_timeout=0.2)
    first = store.record(**read_of(1))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(AuditStoreError, match="busy"):
            store.record(**read_of(2))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.entries() == [first]


def test_an_unknown_read_is_refused_and_not_stored(location):
    store = AuditStore(location)
    with pytest.raises(ValueError, match="clinician_read"):
        store.record(**{**read_of(1), "clinician_read": "maybe"})
    assert store.entries() == []


def test_csv_export_has_every_entry_and_defuses_formulas(location):
    store = AuditStore(location)
    store.record(**read_of(7))
    store.record(**{**read_of(8), "note": "=HYPERLINK(\"http://x\")", "file_name": "ä, \"quoted\".png"})
    rows = list(csv.DictReader(io.StringIO(entries_csv(store.entries()).decode("utf-8"))))
    assert [row["id"] for row in rows] == ["1", "2"]
    assert rows[0]["note"] == "note 7 from test"
    assert rows[0]["image_sha256"] == image_sha256(b"test-7")
    assert float(rows[0]["probability"]) == pytest.approx(0.07)
    assert rows[1]["note"].startswith("'=")
    assert rows[1]["file_name"] == "ä, \"quoted\".png"


def test_the_path_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)
    monkeypatch.setenv(AUDIT_DB_ENV, str(tmp_path / "elsewhere.sqlite3"))
    assert default_audit_path() == tmp_path / "elsewhere.sqlite3"
    AuditStore().record(**read_of(3))
    assert (tmp_path / "elsewhere.sqlite3").is_file()


def test_a_server_url_in_the_environment_wins_over_the_file(tmp_path, monkeypatch, postgres):
    url = migrated_database(postgres, "from the environment")
    monkeypatch.setenv(AUDIT_DB_ENV, str(tmp_path / "unused.sqlite3"))
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    AuditStore().record(**{**read_of(4), "reader": local_reader()})
    assert len(AuditStore(url).entries()) == 1 and not (tmp_path / "unused.sqlite3").exists()
    for unusable in ("mysql://someone@somewhere/db", "postgresql+psycopg2://u:p@host/db", "postgresql://u:p@host:x/db",
                     "sqlite://", "not a url"):
        monkeypatch.setenv(DATABASE_URL_ENV, unusable)
        with pytest.raises(AuditStoreError, match=DATABASE_URL_ENV) as refused:
            AuditStore()
        assert ":p@" not in str(refused.value) and not refused.value.detail


def test_a_least_privileged_writer_saves_reads_and_can_change_none(postgres):
    """The README's grants: the owner migrates; the app's own role may insert and read, nothing more."""
    owner_url = migrated_database(postgres, "least privilege")
    database = sa.make_url(owner_url).database
    postgres.execute(
        f"GRANT USAGE ON SCHEMA public TO {VIEWER_USER}",
        f"GRANT SELECT, INSERT ON reads TO {VIEWER_USER}",
        f"GRANT SELECT ON {VERSION_TABLE} TO {VIEWER_USER}",
        database=database,
    )
    writer = AuditStore(postgres.url(database, VIEWER_USER, VIEWER_PASSWORD))
    assert "USAGE on its id sequence" in writer.read_only_reason, "an insert would fail for want of the sequence"
    postgres.execute(f"GRANT USAGE ON SEQUENCE reads_id_seq TO {VIEWER_USER}", database=database)
    writer = AuditStore(postgres.url(database, VIEWER_USER, VIEWER_PASSWORD))
    assert writer.read_only_reason == ""
    first = writer.record(**read_of(1))
    engine = sa.create_engine(postgres.url(database, VIEWER_USER, VIEWER_PASSWORD))
    try:
        for change in ("UPDATE reads SET note = 'x'", "DELETE FROM reads", "TRUNCATE reads",
                       "DROP TRIGGER reads_no_change ON reads"):
            with pytest.raises(sa.exc.DBAPIError), engine.begin() as connection:
                connection.exec_driver_sql(change)
    finally:
        engine.dispose()
    assert AuditStore(owner_url).entries() == [first]


def test_a_note_over_the_limit_is_refused_whole_and_one_at_the_limit_is_kept(location):
    store = AuditStore(location)
    with pytest.raises(ValueError, match=f"{MAX_NOTE_CHARS + 1:,} characters long; the limit is {MAX_NOTE_CHARS:,}"):
        store.record(**{**read_of(1), "note": "x" * (MAX_NOTE_CHARS + 1)})
    assert store.entries() == []
    note = "é" * MAX_NOTE_CHARS
    assert store.record(**{**read_of(2), "note": note}).note == note
    assert [entry.note for entry in store.entries()] == [note]


@pytest.mark.parametrize("what", READ_ONLY)
def test_a_read_only_database_is_opened_for_reading_and_refuses_writes(open_folder, what):
    path = open_folder / "audit.sqlite3"
    recorded = [AuditStore(path).record(**read_of(index)) for index in range(3)]
    make_read_only(path, what)
    before = path.read_bytes()
    with without_write_access():
        store = AuditStore(path)
        assert "read-only" in store.read_only_reason
        assert store.entries() == recorded
        assert len(list(csv.DictReader(io.StringIO(entries_csv(store.entries()).decode("utf-8"))))) == 3
        with pytest.raises(AuditStoreError, match="read-only"):
            store.record(**read_of(4))
    assert path.read_bytes() == before
    assert AuditStore(path).entries() == recorded


def test_a_read_only_folder_still_shows_reads_a_running_writer_has_not_checkpointed(open_folder):
    """While another process has the file open its newest reads are only in the WAL file."""
    path = open_folder / "audit.sqlite3"
    first = AuditStore(path).record(**read_of(1))
    with closing(sqlite3.connect(path)) as writer:
        writer.execute("SELECT count(*) FROM reads").fetchone()
        second = AuditStore(path).record(**read_of(2))
        assert path.with_name(path.name + "-wal").stat().st_size > 0
        make_read_only(path, "folder")
        with without_write_access():
            store = AuditStore(path)
            assert "read-only" in store.read_only_reason
            assert store.entries() == [first, second]


def test_an_empty_read_only_file_is_refused_with_the_reason(open_folder):
    path = open_folder / "audit.sqlite3"
    path.touch()
    make_read_only(path, "file")
    with without_write_access(), pytest.raises(AuditStoreError, match="read-only"):
        AuditStore(path)
    assert path.read_bytes() == b""


def test_a_database_locked_for_writing_is_opened_for_reading_until_the_lock_goes(tmp_path):
    path = tmp_path / "audit.sqlite3"
    first = AuditStore(path).record(**read_of(1))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = AuditStore(path, busy_timeout=0.2)
        assert "busy" in store.read_only_reason
        assert store.entries() == [first]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    second = store.record(**read_of(2))
    assert AuditStore(path).entries() == [first, second]
    assert AuditStore(path).read_only_reason == ""
