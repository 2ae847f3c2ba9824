"""The model committed in model/artifacts: present, consistent with its card, and right on later X-rays."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from model.calibration import file_list_digest
from model.card import MODEL_FILE, VALIDATION_SCORES_FILE, read_scores
from model.dataset import list_labelled_files
from model.evaluate import default_output, score_folder
from model.evaluation.metrics import binary_metrics
from model.imaging.decode import read_image
from model.network import FLOPS_BUDGET, LAST_CONV_LAYER, flops_per_image
from tests.conftest import DATA_ROOT

TRAINING_BUDGET_SECONDS = 45 * 60


def test_model_file_is_small_and_exposes_its_last_conv(artifacts_dir, classifier):
    assert (artifacts_dir / MODEL_FILE).stat().st_size <= 25 * 1024 * 1024
    assert classifier.network.get_layer(LAST_CONV_LAYER).output.shape[-1] > 0
    assert classifier.network.output.shape[-1] == 1


def test_card_records_training(classifier):
    card = classifier.card
    assert card.training_wall_time_seconds > 0
    assert len(card.history["val_auc"]) == card.hyperparameters["epochs_run"]
    assert card.data["train"]["counts"]["NORMAL"] + card.data["validation"]["counts"]["NORMAL"] == 1341
    assert card.data["train"]["counts"]["PNEUMONIA"] + card.data["validation"]["counts"]["PNEUMONIA"] == 3875
    assert card.training_wall_time_seconds <= TRAINING_BUDGET_SECONDS


def test_network_fits_the_flops_budget(classifier):
    assert flops_per_image(classifier.network) <= FLOPS_BUDGET


def test_operating_point_was_fitted_on_the_calibration_sample(artifacts_dir, classifier):
    """The stored report of the calibration sample is what the committed model gives on those images today."""
    point = classifier.card.provenance
    folder = DATA_ROOT / "calibration"
    assert point.fitted_on.counts == {"NORMAL": 59, "PNEUMONIA": 98}
    files = list_labelled_files(folder)
    assert point.fitted_on.files_sha256 == file_list_digest([str(p.relative_to(folder)) for p in files.paths])
    report = json.loads(default_output(artifacts_dir, {"name": point.fitted_on.name}).read_text())
    assert report["model_version"] == classifier.version and report["threshold"] == classifier.threshold
    assert report["sensitivity"] >= classifier.point.target_sensitivity
    scores, _ = score_folder(classifier, folder)
    stored = {row["file"]: row["probability"] for row in report["scores"]}
    assert np.allclose([stored[f] for f in scores.files], scores.probabilities, atol=1e-4)
    crossed = point.assessment["cross_fitted"]
    assert crossed["sensitivity"] >= 0.9 and crossed["specificity"] >= 0.8


def test_stored_validation_scores_reproduce_the_card(artifacts_dir, classifier):
    scores = read_scores(artifacts_dir / VALIDATION_SCORES_FILE)
    recomputed = binary_metrics(scores.labels, scores.probabilities, classifier.threshold)
    for key in ("n", "accuracy", "sensitivity", "specificity", "auroc"):
        assert recomputed[key] == pytest.approx(classifier.card.validation_metrics[key], abs=1e-6)
    assert recomputed["confusion_matrix"] == classifier.card.validation_metrics["confusion_matrix"]


def test_scores_the_full_resolution_originals_as_its_stored_report(classifier, val_images, artifacts_dir):
    """The 16 full-resolution val/ originals, as a clinician uploads them: the page's report is what the model gives.

    These are training-period X-rays; the model is judged on the later ones (test above), and the README
    reports its figures on these 16 as they are. Their ranking must stay well above chance.
    """
    probabilities = np.array([classifier.probability_of(read_image(path).pixels) for path, _ in val_images])
    labels = np.array([label for _, label in val_images])
    report = json.loads(default_output(artifacts_dir, {"name": "val"}).read_text())
    stored = {row["file"]: row["probability"] for row in report["scores"]}
    assert np.allclose([stored[f"{path.parent.name}/{path.name}"] for path, _ in val_images], probabilities, atol=1e-4)
    assert report["model_version"] == classifier.version
    assert roc_auc_score(labels, probabilities) >= 0.85
