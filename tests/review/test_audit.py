"""The audit trail on a real SQLite file: concurrent writers, reopening, damage, locks, read-only files, export."""
from __future__ import annotations

import csv
import hashlib
import io
import multiprocessing
import os
import pwd
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from model.errors import AuditStoreError
from review.audit import AUDIT_DB_ENV, MAX_NOTE_CHARS, AuditStore, default_audit_path

WRITES_PER_PROCESS = 40
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


def write_many(path: str, writer: str, start: multiprocessing.synchronize.Event) -> None:
    store = AuditStore(path)
    start.wait()
    for index in range(WRITES_PER_PROCESS):
        store.record(**read_of(index, writer))


@pytest.mark.slow  # two processes importing the project
def test_two_concurrent_writer_processes_lose_nothing(tmp_path):
    path = tmp_path / "audit.sqlite3"
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [context.Process(target=write_many, args=(str(path), name, start)) for name in ("a", "b")]
    for process in writers:
        process.start()
    start.set()
    for process in writers:
        process.join(60)
    assert [process.exitcode for process in writers] == [0, 0]

    entries = AuditStore(path).entries()
    assert len(entries) == 2 * WRITES_PER_PROCESS
    assert len({entry.id for entry in entries}) == len(entries)
    for name in ("a", "b"):
        notes = [entry.note for entry in entries if entry.file_name.startswith(f"{name}-")]
        assert notes == [f"note {index} from {name}" for index in range(WRITES_PER_PROCESS)]


def test_reopening_keeps_every_entry_in_order(tmp_path):
    path = tmp_path / "nested" / "audit.sqlite3"
    recorded = [AuditStore(path).record(**read_of(index)) for index in range(5)]
    reopened = AuditStore(path).entries()
    assert reopened == recorded
    assert reopened[0].recorded_at.endswith("+00:00")
    assert reopened[2].clinician_read == "unsure"


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


def test_an_unknown_read_is_refused_and_not_stored(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite3")
    with pytest.raises(ValueError, match="clinician_read"):
        store.record(**{**read_of(1), "clinician_read": "maybe"})
    assert store.entries() == []


def test_csv_export_has_every_entry_and_defuses_formulas(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite3")
    store.record(**read_of(7))
    store.record(**{**read_of(8), "note": "=HYPERLINK(\"http://x\")", "file_name": "ä, \"quoted\".png"})
    rows = list(csv.DictReader(io.StringIO(store.export_csv().decode("utf-8"))))
    assert [row["id"] for row in rows] == ["1", "2"]
    assert rows[0]["note"] == "note 7 from test"
    assert rows[0]["image_sha256"] == image_sha256(b"test-7")
    assert float(rows[0]["probability"]) == pytest.approx(0.07)
    assert rows[1]["note"].startswith("'=")
    assert rows[1]["file_name"] == "ä, \"quoted\".png"


def test_the_path_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(AUDIT_DB_ENV, str(tmp_path / "elsewhere.sqlite3"))
    assert default_audit_path() == tmp_path / "elsewhere.sqlite3"
    AuditStore().record(**read_of(3))
    assert (tmp_path / "elsewhere.sqlite3").is_file()


def test_a_note_over_the_limit_is_refused_whole_and_one_at_the_limit_is_kept(tmp_path):
    store = AuditStore(tmp_path / "audit.sqlite3")
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
        assert len(list(csv.DictReader(io.StringIO(store.export_csv().decode("utf-8"))))) == 3
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
