"""The Diagnose page's audit form through AppTest: saving a read, refusing what cannot be stored, read-only stores."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from model.dataset import CLASS_NAMES
from review.audit import AUDIT_DB_ENV, DATABASE_URL_ENV, MAX_NOTE_CHARS, AuditStore, migrate
from review.triage import digest_of
from tests.app.conftest import metrics, sign_in, upload
from tests.browser import free_port
from tests.conftest import displayed
from tests.review.test_audit import read_of
from tests.services import VIEWER_PASSWORD, VIEWER_USER
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


@pytest.mark.parametrize("problem", ["server down", "not migrated", "read-only role", "unusable URL"])
def test_a_database_server_that_refuses_gives_a_message_and_keeps_the_note(app, val_images, postgres, monkeypatch,
                                                                            problem):
    """The trail on PostgreSQL: Save disabled with the reason; the database's own words only for an admin."""
    name = {"server down": "audit_page_down", "not migrated": "audit_page_new", "read-only role": "audit_page_ro",
            "unusable URL": "audit_page_url"}
    url = postgres.new_database(name[problem])
    if problem == "unusable URL":
        url = url.replace("+psycopg", "+psycopg2")
    elif problem == "server down":
        url = postgres.url(name[problem], port=free_port())
    elif problem == "read-only role":
        migrate(url)
        AuditStore(url).record(**read_of(1))
        postgres.let_viewer_read(name[problem])
        url = postgres.url(name[problem], VIEWER_USER, VIEWER_PASSWORD)
    monkeypatch.setenv(DATABASE_URL_ENV, url)
    upload(app, val_images[-1][0])
    assert not app.exception
    assert save_button(app).disabled
    shown = "\n".join(displayed(node.value) for node in [*app.error, *app.warning, *app.caption])
    expected = {"server down": "cannot be reached", "not migrated": "python -m review.audit migrate",
                "read-only role": "read-only for this app", "unusable URL": "cannot keep its trail in"}[problem]
    assert expected in shown
    if problem == "read-only role":
        assert list(next(f.value for f in app.dataframe if "note" in f.value.columns)["note"]) == [read_of(1)["note"]]
    assert "viewer-secret" not in shown and "app-secret" not in shown
    if problem == "server down":
        assert "The database said: connection failed" in shown, "the local user is the admin: the server's own words"
    sign_in(app, {"sub": "reader-1", "name": "Dr Reader"}).run()
    shown = "\n".join(displayed(node.value) for node in [*app.error, *app.warning, *app.caption])
    assert expected in shown and str(postgres.port) not in shown and "127.0.0.1" not in shown, "no server for readers"
