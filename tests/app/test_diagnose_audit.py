"""The Diagnose page's audit form through AppTest: saving a read, refusing what cannot be stored, read-only stores."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from model.dataset import CLASS_NAMES
from review.audit import AUDIT_DB_ENV, MAX_NOTE_CHARS, AuditStore
from review.triage import digest_of
from tests.app.conftest import metrics, upload
from tests.review.test_audit import read_of
from ui import state

pytestmark = pytest.mark.slow  # the real app under AppTest


def save_button(app: AppTest) -> Button:
    return next(button for button in app.button if button.label == "Save to the audit trail")


def save_read(app: AppTest, path: Path, read: str | None, note: str = "") -> AppTest:
    """Open the X-ray, fill in the audit form (no read chosen when `read` is None) and press save."""
    upload(app, path)
    digest = digest_of(path.read_bytes())
    if read is not None:
        app.radio(key=state.for_image(state.AUDIT_READ, digest)).set_value(read)
    app.text_area(key=state.for_image(state.AUDIT_NOTE, digest)).input(note)
    save_button(app).click()
    return app.run()


def test_a_read_is_saved_to_the_audit_trail_and_listed(app, val_images, audit_db):
    path, note = val_images[-1][0], "consolidation left lower lobe"
    save_read(app, path, "disagree", note)
    assert not app.exception and not app.error
    assert any("Saved to the audit trail" in success.value for success in app.success)
    [entry] = AuditStore(audit_db).entries()
    assert (entry.file_name, entry.clinician_read, entry.note) == (path.name, "disagree", note)
    assert entry.image_sha256 == digest_of(path.read_bytes()) and entry.model_label == metrics(app)["Result"]
    recent = next(frame.value for frame in app.dataframe if "clinician_read" in frame.value.columns)
    assert list(recent["note"]) == [note]
    assert any("audit" in button.label.lower() for button in app.get("download_button"))


def test_saving_without_a_read_asks_for_one_and_stores_nothing(app, val_images, audit_db):
    save_read(app, val_images[-1][0], None)
    assert not app.exception
    assert any("Choose agree, disagree or unsure" in warning.value for warning in app.warning)
    assert not audit_db.exists(), "nothing saved, and viewing alone creates no database"


def test_a_corrupt_audit_database_gives_a_message_disables_save_and_is_left_alone(app, val_images, audit_db):
    garbage = b"this is not a SQLite database" * 100
    audit_db.write_bytes(garbage)
    upload(app, val_images[-1][0])
    assert not app.exception
    assert any("damaged" in error.value for error in app.error)
    assert save_button(app).disabled
    assert metrics(app)["Result"] in CLASS_NAMES, "the rest of the page still works"
    assert audit_db.read_bytes() == garbage


def test_an_audit_note_over_the_limit_is_refused_and_kept_and_one_at_the_limit_saves(app, val_images, audit_db):
    path = val_images[-1][0]
    digest = digest_of(path.read_bytes())
    read_key, note_key = state.for_image(state.AUDIT_READ, digest), state.for_image(state.AUDIT_NOTE, digest)
    pasted = ("Patchy consolidation in the left lower lobe, compare with the prior film. " * 40)[:2499] + "."
    save_read(app, path, "disagree", pasted)
    assert not app.exception and not app.success
    assert any("2,500 characters" in error.value and "2,000" in error.value for error in app.error)
    assert not audit_db.exists(), "nothing stored"
    assert app.text_area(key=note_key).value == pasted, "the note is kept to be shortened"
    assert app.radio(key=read_key).value == "disagree"

    shortened = pasted[: MAX_NOTE_CHARS - 1] + "."
    app.text_area(key=note_key).input(shortened)
    save_button(app).click()
    app.run()
    assert not app.exception and not app.error
    assert any("Saved to the audit trail" in success.value for success in app.success)
    [entry] = AuditStore(audit_db).entries()
    assert (entry.note, entry.clinician_read) == (shortened, "disagree")
    assert app.text_area(key=note_key).value == "", "a saved read empties the form"
    assert app.radio(key=read_key).value is None


def test_a_locked_audit_database_lists_its_reads_and_disables_save(app, val_images, tmp_path, monkeypatch):
    """Another program holds the write lock: the page waits its busy timeout, then shows the reads read-only.

    A read-only file or folder takes the same path; tests/review/test_audit.py covers those at the store, as the
    user "nobody" (root ignores permission bits, and the page cannot run as "nobody" in a private checkout).
    """
    path = tmp_path / "audit.sqlite3"
    monkeypatch.setenv(AUDIT_DB_ENV, str(path))
    earlier = [AuditStore(path).record(**read_of(index)) for index in range(3)]
    upload(app, val_images[-1][0])
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        app.run()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not app.exception and not app.error
    assert any("busy" in warning.value for warning in app.warning)
    assert save_button(app).disabled
    recent = next(frame.value for frame in app.dataframe if "clinician_read" in frame.value.columns)
    assert list(recent["note"]) == [entry.note for entry in reversed(earlier)]
