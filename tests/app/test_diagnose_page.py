"""The Diagnose page driven through Streamlit's AppTest, with the real model and real X-rays.

Tests that show an explanation open the same X-ray (val_images[-1]) where
they can: LIME's result is cached per image, so the page's default 1000
samples are computed once for the module. The photograph gets LIME's
smallest sample count through the settings' session state. Every test
writes its audit trail to its own temporary file.
"""
from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data as samples
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Button

from model.card import CARD_FILE, MODEL_FILE, VALIDATION_SCORES_FILE
from model.dataset import CLASS_NAMES
from model.imaging.preprocessing import decode_image
from model.trust.ood import OOD_STATS_FILE, OOD_SUMMARY_FILE
from model.trust.uncertainty import UNCERTAIN_LABEL, uncertainty
from review.audit import AUDIT_DB_ENV, MAX_NOTE_CHARS, AuditStore
from review.triage import OOD_FLAG, digest_of
from tests.conftest import PROJECT_ROOT, displayed, encode
from tests.inputs import dicom_bytes
from tests.review.test_audit import read_of
from ui.diagnose import FAITHFULNESS_OPEN, STABILITY_RERUNS

DIAGNOSE_PAGE = "pages/diagnose.py"
FEWEST_LIME_SAMPLES = 200
INTERVAL = re.compile(r"([\d.]+)%–([\d.]+)%( under small shifts)?")


@pytest.fixture(scope="module")
def photo() -> tuple[str, bytes, str]:
    """A colour photograph, the kind of upload the model must not judge."""
    return ("astronaut.png", encode(Image.fromarray(samples.astronaut()), "PNG"), "image/png")


@pytest.fixture
def audit_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.sqlite3"
    monkeypatch.setenv("XRAY_AUDIT_DB", str(path))
    return path


def open_app(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("XRAY_MODEL_DIR", str(model_dir))
    test = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    test.run()
    test.switch_page(DIAGNOSE_PAGE).run()
    assert not test.exception
    return test


@pytest.fixture
def app(artifacts_dir: Path, audit_db: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    return open_app(artifacts_dir, monkeypatch)


def upload(app: AppTest, *paths_or_files) -> AppTest:
    files = [
        (item.name, item.read_bytes(), "image/jpeg") if isinstance(item, Path) else item for item in paths_or_files
    ]
    app.file_uploader(key="diagnose_uploads").set_value(files)
    return app.run()


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def interval(text: str) -> tuple[float, float]:
    low, high, _ = INTERVAL.fullmatch(text).groups()
    return float(low), float(high)


def straddles(classifier, data: bytes) -> bool:
    """Whether the page should mark this upload "uncertain — review", from the model directly."""
    return uncertainty(classifier, decode_image(data).pixels).straddles_threshold


def shows_uncertain(app: AppTest) -> bool:
    return any(UNCERTAIN_LABEL.capitalize() in warning.value for warning in app.warning)


def save_button(app: AppTest) -> Button:
    return next(button for button in app.button if button.label == "Save to the audit trail")


def save_read(app: AppTest, path: Path, read: str | None, note: str = "") -> AppTest:
    """Open the X-ray, fill in the audit form (no read chosen when `read` is None) and press save."""
    upload(app, path)
    key = digest_of(path.read_bytes())[:12]
    if read is not None:
        app.radio(key=f"audit_read_{key}").set_value(read)
    app.text_area(key=f"audit_note_{key}").input(note)
    save_button(app).click()
    return app.run()


def test_empty_page_invites_an_upload(app):
    assert any("Upload one or more chest X-rays" in info.value for info in app.info)
    uploader = app.file_uploader(key="diagnose_uploads")
    assert uploader.accept_multiple_files
    assert {"jpg", "jpeg", "png", "dcm"} <= {t.lstrip(".") for t in uploader.allowed_type}


def test_full_resolution_upload_shows_label_probability_interval_and_explanations(app, val_images, classifier):
    """A real X-ray: no warning that it is unlike the training X-rays, and every part of the result."""
    path = val_images[-1][0]
    upload(app, path)
    assert not app.exception and not app.error
    shown = metrics(app)
    assert shown["Result"] in CLASS_NAMES
    assert shown["Probability of pneumonia"].endswith("%")
    assert shown["Operating threshold"].endswith("%")
    assert displayed(app.header[0].value) == path.name
    assert any("in 100 X-rays" in markdown.value for markdown in app.markdown)
    assert any("Agreement of LIME and Grad-CAM" in markdown.value for markdown in app.markdown)
    assert len(app.image) >= 5, "two heatmaps and three LIME views"
    assert app.get("download_button")
    [probability] = [m for m in app.metric if m.label == "Probability of pneumonia"]
    low, high = interval(probability.delta)
    assert low <= float(probability.value.rstrip("%")) <= high
    assert shows_uncertain(app) == straddles(classifier, path.read_bytes())
    assert any("raise its log-odds by" in markdown.value for markdown in app.markdown)
    assert not app.get("plotly_chart"), "faithfulness is measured only when its panel is opened"


def test_opening_the_faithfulness_panel_measures_it_on_the_log_odds_scale(app, val_images):
    upload(app, val_images[-1][0])
    app.session_state[FAITHFULNESS_OPEN] = True
    app.run()
    assert not app.exception
    assert app.get("plotly_chart"), "deletion and insertion curves"
    areas = next(frame.value for frame in app.dataframe if "insertion − deletion" in frame.value.columns)
    assert list(areas["method"]) == ["LIME", "Grad-CAM", "random"], "the more faithful method first"
    assert areas.drop(columns="method").stack().map(np.isfinite).all()
    margins = dict(zip(areas["method"], areas["insertion − deletion"]))
    assert margins["LIME"] > margins["random"]


def test_check_stability_reruns_lime_and_says_how_far_the_regions_hold(app, val_images):
    upload(app, val_images[-1][0])
    [button] = [b for b in app.button if (b.key or "").startswith("stability_")]
    button.click().run()
    assert not app.exception
    [said] = [info.value for info in app.info if "other seeds" in info.value]
    assert f"Rerun with {STABILITY_RERUNS} other seeds" in said and "median Jaccard" in said
    app.run()
    assert any("other seeds" in info.value for info in app.info), "the answer stays on later reruns"


def test_corrupt_file_gets_a_message_and_no_exception(app):
    upload(app, ("broken.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF truncated", "image/jpeg"))
    assert not app.exception
    assert len(app.error) == 1 and "broken.jpg" in displayed(app.error[0].value)
    assert not app.metric


def test_three_files_give_a_triage_table_sorted_by_probability(app, val_images):
    paths = [val_images[0][0], val_images[-1][0], val_images[2][0]]
    upload(app, *paths)
    assert not app.exception
    table = app.dataframe[0].value
    assert sorted(table["file"]) == sorted(p.name for p in paths)
    assert list(table["probability"]) == sorted(table["probability"], reverse=True)
    assert set(table["label"]) <= set(CLASS_NAMES)
    assert displayed(app.header[0].value) == table["file"].iloc[0], "the most likely pneumonia is opened first"


def test_bad_file_in_a_batch_leaves_the_others_their_results(app, val_images):
    upload(app, val_images[1][0], ("empty.png", b"", "image/png"), val_images[-1][0])
    assert not app.exception
    assert len(app.error) == 1 and "empty.png" in displayed(app.error[0].value)
    assert len(app.dataframe[0].value) == 2
    assert metrics(app)["Result"] in CLASS_NAMES


def test_sample_can_be_tried_without_uploading(app):
    sample = app.selectbox(key="diagnose_sample")
    sample.set_value(sample.options[0]).run()
    assert not app.exception
    assert displayed(app.header[0].value) == sample.options[0]
    assert metrics(app)["Result"] in CLASS_NAMES


def test_another_page_can_open_an_image_for_review(app, val_images):
    path = val_images[-1][0]
    app.session_state["review_path"] = str(path)
    app.run()
    assert not app.exception
    assert displayed(app.header[0].value) == path.name
    assert "review_path" not in app.session_state
    app.slider(key="heatmap_opacity").set_value(0.8).run()
    assert displayed(app.header[0].value) == path.name, "the reviewed image stays open on the next rerun"


def test_a_photograph_gets_a_prominent_warning_and_a_greyed_result(app, photo, classifier):
    app.session_state["lime_samples"] = FEWEST_LIME_SAMPLES
    upload(app, photo)
    assert not app.exception
    [warning] = app.error
    assert "unlike the training X-rays" in warning.value and "colour" in warning.value
    shown = metrics(app)
    assert shown["Result"] in {f":gray[{name}]" for name in CLASS_NAMES}, "still shown, greyed"
    assert shown["Probability of pneumonia"].startswith(":gray[")
    assert any("unreliable" in caption.value.lower() for caption in app.caption)
    assert shows_uncertain(app) == straddles(classifier, photo[1])


def test_the_triage_table_shows_the_range_and_flags_the_photograph(app, val_images, photo, classifier):
    app.session_state["lime_samples"] = FEWEST_LIME_SAMPLES
    files = {path.name: path.read_bytes() for path, _ in (val_images[-1], val_images[0])}
    files[photo[0]] = photo[1]
    upload(app, *[(name, data, "image/png") for name, data in files.items()])
    assert not app.exception
    table = app.dataframe[0].value.set_index("file")
    assert {"range", "trust", "flags"} <= set(table.columns)
    for text, probability in zip(table["range"], table["probability"]):
        low, high = interval(text)
        assert low <= round(100 * probability, 1) <= high
    for name, data in files.items():
        assert (OOD_FLAG in table.loc[name, "trust"]) == (name == photo[0])
        assert (UNCERTAIN_LABEL in table.loc[name, "trust"]) == straddles(classifier, data)


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
    key = digest_of(path.read_bytes())[:12]
    pasted = ("Patchy consolidation in the left lower lobe, compare with the prior film. " * 40)[:2499] + "."
    save_read(app, path, "disagree", pasted)
    assert not app.exception and not app.success
    assert any("2,500 characters" in error.value and "2,000" in error.value for error in app.error)
    assert not audit_db.exists(), "nothing stored"
    assert app.text_area(key=f"audit_note_{key}").value == pasted, "the note is kept to be shortened"
    assert app.radio(key=f"audit_read_{key}").value == "disagree"

    shortened = pasted[: MAX_NOTE_CHARS - 1] + "."
    app.text_area(key=f"audit_note_{key}").input(shortened)
    save_button(app).click()
    app.run()
    assert not app.exception and not app.error
    assert any("Saved to the audit trail" in success.value for success in app.success)
    [entry] = AuditStore(audit_db).entries()
    assert (entry.note, entry.clinician_read) == (shortened, "disagree")
    assert app.text_area(key=f"audit_note_{key}").value == "", "a saved read empties the form"
    assert app.radio(key=f"audit_read_{key}").value is None


def test_a_locked_audit_database_lists_its_reads_and_disables_save(app, val_images, tmp_path, monkeypatch):
    """Another program holds the write lock: the page waits its busy timeout, then shows the reads read-only.

    A read-only file or folder takes the same path; tests/test_audit.py covers those at the store, as the
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


@pytest.mark.parametrize("damage", ["missing", "fitted for another model"])
def test_without_a_usable_ood_check_the_page_says_so_and_still_works(
    damage, artifacts_dir, audit_db, tmp_path, monkeypatch, val_images
):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    for name in (MODEL_FILE, CARD_FILE, VALIDATION_SCORES_FILE):
        (model_dir / name).symlink_to(artifacts_dir / name)
    if damage == "fitted for another model":
        shutil.copy(artifacts_dir / OOD_STATS_FILE, model_dir)
        summary = json.loads((artifacts_dir / OOD_SUMMARY_FILE).read_text())
        (model_dir / OOD_SUMMARY_FILE).write_text(json.dumps({**summary, "model_sha256": "0" * 64}))
    app = open_app(model_dir, monkeypatch)
    upload(app, val_images[-1][0])
    assert not app.exception and not app.error
    assert any("cannot be checked for being unlike the training X-rays" in info.value for info in app.info)
    assert metrics(app)["Result"] in CLASS_NAMES


def test_a_dicom_header_shows_its_study_fields_and_masks_the_patient_until_asked(app, val_images):
    pixels = decode_image(val_images[9][0].read_bytes(), "x.jpg").pixels.astype(np.uint16) * 16
    data = dicom_bytes(pixels, Modality="CT", PatientAge="062Y", PatientName="Doe^Jane", PatientID="MRN-0042")
    app.session_state["lime_samples"] = FEWEST_LIME_SAMPLES
    upload(app, ("scan_[ct].dcm", data, "application/dicom"))
    assert not app.exception
    assert any("Modality CT" in error.value and "Do not rely" in error.value for error in app.error)
    assert any("62 years old" in warning.value for warning in app.warning)
    tables = [frame.value for frame in app.dataframe]
    fields = next(t for t in tables if "field" in t.columns)
    assert dict(zip(fields["field"], fields["value"]))["Modality"] == "CT"
    identifiers = next(t for t in tables if "identifier" in t.columns)
    assert "Doe^Jane" not in identifiers["value"].tolist() and "MRN-0042" not in identifiers["value"].tolist()
    [toggle] = [t for t in app.toggle if t.label == "Show patient identifiers"]
    toggle.set_value(True).run()
    identifiers = next(frame.value for frame in app.dataframe if "identifier" in frame.value.columns)
    assert {"Doe^Jane", "MRN-0042"} <= set(identifiers["value"])


def test_a_lateral_jpeg_is_greyed_with_the_reason_from_its_pixels(app):
    lateral = sorted((PROJECT_ROOT.parent / "shared" / "data" / "other_xrays" / "lateral").glob("*.jpg"))[0]
    app.session_state["lime_samples"] = FEWEST_LIME_SAMPLES
    upload(app, lateral)
    assert not app.exception
    # The reason is escaped as plain text; drop the escapes to read it.
    assert any("lateral (side) view" in displayed(error.value) for error in app.error)
