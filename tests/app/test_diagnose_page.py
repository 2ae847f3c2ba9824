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

import numpy as np
import pytest
from PIL import Image
from skimage import data as samples
from streamlit.testing.v1 import AppTest

from model.card import CARD_FILE, MODEL_FILE, VALIDATION_SCORES_FILE
from model.dataset import CLASS_NAMES
from model.explain.stability import STABILITY_RERUNS
from model.imaging.decode import decode_image
from model.imaging.window import FULL_RANGE, MANUAL
from model.paths import PROJECT_ROOT
from model.trust.ood import OOD_STATS_FILE, OOD_SUMMARY_FILE
from model.trust.uncertainty import UNCERTAIN_LABEL, uncertainty
from review.jobs import client
from review.jobs.settings import BROKER_ENV
from review.triage import OOD_FLAG, digest_of
from tests.app.conftest import metrics, open_app, upload, viewers
from tests.browser import free_port
from tests.conftest import displayed, encode
from tests.inputs import WINDOW_NAMES, dicom_bytes, windowed_dicom
from ui import state
from ui.diagnose.explanation import FEWEST_SAMPLES as FEWEST_LIME_SAMPLES
from ui.shortcuts import PREVIOUS_IMAGE

pytestmark = pytest.mark.slow  # the real app under AppTest

INTERVAL = re.compile(r"([\d.]+)%–([\d.]+)%( under small shifts)?")


@pytest.fixture(scope="module")
def photo() -> tuple[str, bytes, str]:
    """A colour photograph, the kind of upload the model must not judge."""
    return ("astronaut.png", encode(Image.fromarray(samples.astronaut()), "PNG"), "image/png")


def interval(text: str) -> tuple[float, float]:
    low, high, _ = INTERVAL.fullmatch(text).groups()
    return float(low), float(high)


def straddles(classifier, data: bytes) -> bool:
    """Whether the page should mark this upload "uncertain — review", from the model directly."""
    return uncertainty(classifier, decode_image(data).pixels).straddles_threshold


def shows_uncertain(app: AppTest) -> bool:
    return any(UNCERTAIN_LABEL.capitalize() in warning.value for warning in app.warning)


def test_empty_page_invites_an_upload(app):
    assert any("Upload one or more chest X-rays" in info.value for info in app.info)
    uploader = app.file_uploader(key=state.UPLOADS)
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
    assert len(app.image) >= 3, "LIME's three pictures, as in the PDF"
    [viewer] = viewers(app)
    assert viewer["titles"][1].startswith("With the evidence for") and len(viewer["layers"]) == 3
    assert app.get("download_button")
    [probability] = [m for m in app.metric if m.label == "Probability of pneumonia"]
    low, high = interval(probability.delta)
    assert low <= float(probability.value.rstrip("%")) <= high
    assert shows_uncertain(app) == straddles(classifier, path.read_bytes())
    assert any("raise its log-odds by" in markdown.value for markdown in app.markdown)
    assert not app.get("plotly_chart"), "faithfulness is measured when its panel is opened"


def test_opening_the_faithfulness_panel_measures_it_on_the_log_odds_scale(app, val_images):
    upload(app, val_images[-1][0])
    app.session_state[state.FAITHFULNESS_OPEN] = True
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
    [button] = [b for b in app.button if (b.key or "").startswith(state.STABILITY_BUTTON)]
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
    app.button(key=state.TRIAGE_NEXT).click().run()
    assert displayed(app.header[0].value) == table["file"].iloc[1], "Next (key N) opens the next in the list"
    assert app.button(key=state.TRIAGE_PREVIOUS).proto.shortcut.upper() == PREVIOUS_IMAGE
    app.button(key=state.TRIAGE_NEXT).click().run()
    assert displayed(app.header[0].value) == table["file"].iloc[2]
    assert app.button(key=state.TRIAGE_NEXT).disabled, "the last image has no next"
    app.button(key=state.TRIAGE_PREVIOUS).click().run()
    assert displayed(app.header[0].value) == table["file"].iloc[1]


def test_a_window_preset_changes_the_viewers_image_and_not_the_probability(app, xray_pixels):
    """The DICOM's own windows by name; choosing one redraws the X-ray, while the model's answer stays."""
    data = windowed_dicom(xray_pixels)
    upload(app, ("windows.dcm", data, "application/dicom"))
    assert not app.exception
    digest = digest_of(data)
    window = app.selectbox(key=state.for_image(state.VIEWER_WINDOW, digest))
    assert window.options == [*WINDOW_NAMES, FULL_RANGE, MANUAL] and window.value == WINDOW_NAMES[0]
    before, source = metrics(app)["Probability of pneumonia"], viewer_source(app)
    window.set_value("LUNG").run()
    assert not app.exception
    assert viewer_source(app) != source, "the X-ray is drawn in the lung window"
    assert metrics(app)["Probability of pneumonia"] == before
    app.toggle(key=state.for_image(state.VIEWER_INVERT, digest)).set_value(True).run()
    inverted = viewer_source(app)
    app.selectbox(key=state.for_image(state.VIEWER_WINDOW, digest)).set_value(MANUAL).run()
    assert app.slider(key=state.for_image(state.VIEWER_CENTRE, digest)).value > 255, "in the file's 12-bit values"
    assert viewer_source(app) not in (source, inverted)
    assert metrics(app)["Probability of pneumonia"] == before


def viewer_source(app: AppTest) -> str:
    """The X-ray image the viewer sends to the browser."""
    [viewer] = viewers(app)
    return viewer["image"]


def test_bad_file_in_a_batch_leaves_the_others_their_results(app, val_images):
    upload(app, val_images[1][0], ("empty.png", b"", "image/png"), val_images[-1][0])
    assert not app.exception
    assert len(app.error) == 1 and "empty.png" in displayed(app.error[0].value)
    assert len(app.dataframe[0].value) == 2
    assert metrics(app)["Result"] in CLASS_NAMES


def test_sample_can_be_tried_without_uploading(app):
    sample = app.selectbox(key=state.SAMPLE)
    sample.set_value(sample.options[0]).run()
    assert not app.exception
    assert displayed(app.header[0].value) == sample.options[0]
    assert metrics(app)["Result"] in CLASS_NAMES


def test_another_page_can_open_an_image_for_review(app, val_images):
    path = val_images[-1][0]
    app.session_state[state.REVIEW_PATH] = str(path)
    app.run()
    assert not app.exception
    assert displayed(app.header[0].value) == path.name
    assert state.REVIEW_PATH not in app.session_state
    app.toggle(key=state.for_image(state.VIEWER_INVERT, digest_of(path.read_bytes()))).set_value(True).run()
    assert displayed(app.header[0].value) == path.name, "the reviewed image stays open on the next rerun"


def test_a_photograph_gets_a_prominent_warning_and_a_greyed_result(app, photo, classifier):
    app.session_state[state.LIME_SAMPLES] = FEWEST_LIME_SAMPLES
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
    app.session_state[state.LIME_SAMPLES] = FEWEST_LIME_SAMPLES
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
    app.session_state[state.LIME_SAMPLES] = FEWEST_LIME_SAMPLES
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
    app.session_state[state.LIME_SAMPLES] = FEWEST_LIME_SAMPLES
    upload(app, lateral)
    assert not app.exception
    # The reason is escaped as plain text; drop the escapes to read it.
    assert any("lateral (side) view" in displayed(error.value) for error in app.error)


def test_with_the_task_queue_down_the_call_stays_and_the_explanation_says_why_until_asked_again(
    artifacts_dir, audit_db, monkeypatch, val_images
):
    monkeypatch.setenv(BROKER_ENV, f"redis://127.0.0.1:{free_port()}/0")
    asked: list[str] = []
    real = client.run_remotely
    monkeypatch.setattr(client, "run_remotely", lambda url, job, *rest: (asked.append(job.kind), real(url, job, *rest))[1])
    app = open_app(artifacts_dir, monkeypatch)
    upload(app, val_images[0][0])
    assert not app.exception and metrics(app)["Result"] in CLASS_NAMES
    [error] = [e.value for e in app.error if "did not answer" in e.value]
    assert "explanation store" in error and asked == ["explanation"]
    app.run()  # another rerun shows the failure without asking the queue again
    assert [e.value for e in app.error if "did not answer" in e.value] == [error] and len(asked) == 1
    next(button for button in app.button if button.label == "Try again").click().run()
    assert len(asked) == 2 and [e.value for e in app.error if "did not answer" in e.value] == [error]
