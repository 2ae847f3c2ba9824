"""The model committed in model/artifacts: present, consistent with its card, and right on later X-rays."""
from __future__ import annotations

import numpy as np
import pytest

from model.artifacts import MODEL_FILE, VALIDATION_SCORES_FILE, read_scores
from model.metrics import binary_metrics
from model.network import LAST_CONV_LAYER
from model.preprocessing import read_image


def test_model_file_is_small_and_exposes_its_last_conv(artifacts_dir, classifier):
    assert (artifacts_dir / MODEL_FILE).stat().st_size <= 25 * 1024 * 1024
    assert classifier.network.get_layer(LAST_CONV_LAYER).output.shape[-1] > 0
    assert classifier.network.output.shape[-1] == 1


def test_card_records_training(classifier):
    card = classifier.card
    assert card["training_wall_time_seconds"] > 0
    assert len(card["history"]["val_auc"]) == card["hyperparameters"]["epochs_run"]
    assert card["data"]["train"]["counts"]["NORMAL"] + card["data"]["validation"]["counts"]["NORMAL"] == 1341
    assert card["data"]["train"]["counts"]["PNEUMONIA"] + card["data"]["validation"]["counts"]["PNEUMONIA"] == 3875
    assert card["validation_metrics"]["sensitivity"] >= card["target_sensitivity"]


def test_stored_validation_scores_reproduce_the_card(artifacts_dir, classifier):
    scores = read_scores(artifacts_dir / VALIDATION_SCORES_FILE)
    recomputed = binary_metrics(scores.labels, scores.probabilities, classifier.threshold)
    for key in ("n", "accuracy", "sensitivity", "specificity", "auroc"):
        assert recomputed[key] == pytest.approx(classifier.card["validation_metrics"][key], abs=1e-6)
    assert recomputed["confusion_matrix"] == classifier.card["validation_metrics"]["confusion_matrix"]


def test_classifies_the_full_resolution_validation_images(classifier, val_images):
    probabilities = np.array([classifier.probability_of(read_image(path).pixels) for path, _ in val_images])
    labels = np.array([label for _, label in val_images])
    predicted = probabilities >= classifier.threshold
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert (predicted == labels).sum() >= 13
    assert predicted[labels == 1].all(), "a pneumonia among the later X-rays was missed"
