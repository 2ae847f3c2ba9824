"""Site calibration as a hospital runs it: `python -m model.calibrate` on a labelled folder of its own X-rays."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from model.calibrate import BEFORE_SUFFIX
from model.calibrate import main as calibrate_main
from model.calibration import choose_threshold, file_list_digest, fit_temperature
from model.card import CARD_FILE, MODEL_FILE, VALIDATION_SCORES_FILE, read_card, read_scores
from model.dataset import list_labelled_files
from model.evaluate import EVALUATIONS_DIR, default_output
from model.evaluate import main as evaluate_main
from model.evaluation.metrics import binary_metrics
from model.operating_point import calibrated_probability
from tests.conftest import DATA_ROOT

PER_CLASS = 20
TARGET = 0.9


@pytest.fixture(scope="module")
def site_folder(tmp_path_factory) -> Path:
    """20 NORMAL and 20 PNEUMONIA later X-rays of the calibration sample, and one damaged file."""
    root = tmp_path_factory.mktemp("site")
    for name in ("NORMAL", "PNEUMONIA"):
        (root / name).mkdir()
        for source in sorted((DATA_ROOT / "calibration" / name).iterdir())[:PER_CLASS]:
            shutil.copyfile(source, root / name / source.name)
    (root / "NORMAL" / "damaged.jpeg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    return root


@pytest.fixture(scope="module")
def calibrated(site_folder, artifacts_dir, tmp_path_factory) -> tuple[Path, str]:
    """The committed model calibrated into a new folder, and what the command printed."""
    out = tmp_path_factory.mktemp("calibrated")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = calibrate_main(["--data", str(site_folder), "--model", str(artifacts_dir), "--out", str(out),
                                 "--target-sensitivity", str(TARGET)])
    assert status == 0
    return out, printed.getvalue()


def test_the_new_version_records_data_date_previous_point_and_method(calibrated, site_folder, artifacts_dir):
    out, _ = calibrated
    before, card = read_card(artifacts_dir).to_json(), read_card(out).to_json()
    assert card["version"] != before["version"] and card["version"].startswith(before["version"].split("+")[0])
    point = card["operating_point"]
    files = [str(p.relative_to(site_folder)) for p in list_labelled_files(site_folder).paths
             if p.name != "damaged.jpeg"]
    assert point["fitted_on"] == {
        "name": site_folder.name, "folder": str(site_folder), "counts": {"NORMAL": PER_CLASS, "PNEUMONIA": PER_CLASS},
        "patients": point["fitted_on"]["patients"], "files_sha256": file_list_digest(files),
    }
    assert point["fitted_at"][:4].isdigit() and "sensitivity" in point["method"]["threshold"]
    assert point["previous"]["version"] == before["version"]
    assert point["previous"]["threshold"] == before["threshold"]
    assert point["previous"]["temperature"] == before["temperature"]
    assert card["target_sensitivity"] == TARGET
    assert (out / MODEL_FILE).read_bytes() == (artifacts_dir / MODEL_FILE).read_bytes(), "weights untouched"
    assert read_card(artifacts_dir).to_json() == before, "the source model is left as it was"


def test_operating_point_is_refitted_on_the_site_images(calibrated):
    out, _ = calibrated
    card = read_card(out).to_json()
    report = json.loads((out / EVALUATIONS_DIR / f"{Path(card['operating_point']['fitted_on']['folder']).name}.json")
                        .read_text())
    labels = np.array([row["label"] for row in report["scores"]])
    logits = np.array([row["logit"] for row in report["scores"]])
    temperature = fit_temperature(logits, labels)
    assert card["temperature"] == pytest.approx(temperature, rel=1e-3)
    threshold = choose_threshold(calibrated_probability(logits, temperature), labels, TARGET)
    assert card["threshold"] == pytest.approx(threshold, abs=1e-5)
    assert report["sensitivity"] >= TARGET and report["model_version"] == card["version"]
    assert report["skipped"] and report["skipped"][0]["file"].endswith("damaged.jpeg")


def test_before_after_and_cross_fitted_figures_carry_intervals(calibrated, site_folder):
    out, printed = calibrated
    card = read_card(out).to_json()
    assessment = card["operating_point"]["assessment"]
    for view in ("before", "after", "cross_fitted"):
        for name in ("auroc", "accuracy", "sensitivity", "specificity", "ece"):
            low, high = assessment[view]["intervals"][name]
            assert low <= assessment[view][name] <= high, (view, name)
    assert assessment["before"]["threshold"] == read_card(out).to_json()["operating_point"]["previous"]["threshold"]
    crossed = assessment["cross_fitted"]
    assert len(crossed["fold_thresholds"]) == crossed["folds"] * crossed["repeats"] and crossed["folds"] >= 2
    for words in ("before (threshold", "after, in-sample", "cross-fitted", "specificity", card["version"]):
        assert words in printed
    before = json.loads(default_output(out, {"name": site_folder.name + BEFORE_SUFFIX}).read_text())
    assert before["operating_point"] == "previous" and before["threshold"] == assessment["before"]["threshold"]


def test_stored_scores_are_reexpressed_at_the_new_operating_point(calibrated, artifacts_dir):
    out, _ = calibrated
    card = read_card(out).to_json()
    scores = read_scores(out / VALIDATION_SCORES_FILE)
    assert np.allclose(scores.probabilities, calibrated_probability(scores.logits, card["temperature"]), atol=1e-5)
    assert np.allclose(scores.logits, read_scores(artifacts_dir / VALIDATION_SCORES_FILE).logits)
    assert card["validation_metrics"]["confusion_matrix"] == binary_metrics(
        scores.labels, scores.probabilities, card["threshold"])["confusion_matrix"]


def test_evaluate_uses_the_calibrated_version(calibrated, site_folder, tmp_path):
    out, _ = calibrated
    report_path = tmp_path / "report.json"
    assert evaluate_main(["--data", str(site_folder), "--model", str(out), "--out", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["threshold"] == read_card(out).point.threshold
    assert report["model_version"] == read_card(out).version


def test_a_folder_without_the_class_folders_is_refused(tmp_path, artifacts_dir, capsys):
    assert calibrate_main(["--data", str(tmp_path), "--model", str(artifacts_dir), "--out", str(tmp_path / "o")]) == 2
    assert "NORMAL" in capsys.readouterr().err
    assert not (tmp_path / "o" / CARD_FILE).exists()
