"""Metric, curve and calibration functions against scikit-learn and hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)

from model.card import Scores, read_scores, stored_threshold, write_scores
from model.evaluation.metrics import (
    binary_metrics,
    most_confident_errors,
    per_class_report,
    pr_points,
    reliability,
    roc_points,
    threshold_sweep,
)

LABELS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
PROBABILITIES = np.array([0.05, 0.30, 0.62, 0.45, 0.81, 0.58, 0.92, 0.23, 0.77, 0.66, 0.97, 0.40])
THRESHOLDS = [0.0, 0.2, 0.4, 0.45, 0.5, 0.62, 0.8, 0.97, 1.0]


def pairwise_auroc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Share of (pneumonia, normal) pairs ranked the right way, ties counting half: the AUROC by definition."""
    positives = probabilities[labels == 1]
    negatives = probabilities[labels == 0]
    wins = (positives[:, None] > negatives[None, :]).sum() + 0.5 * (positives[:, None] == negatives[None, :]).sum()
    return float(wins / (positives.size * negatives.size))


@pytest.mark.parametrize("threshold", THRESHOLDS)
def test_binary_metrics_match_scikit_learn(threshold: float) -> None:
    predictions = (threshold <= PROBABILITIES).astype(int)
    metrics = binary_metrics(LABELS, PROBABILITIES, threshold)
    assert metrics["confusion_matrix"] == confusion_matrix(LABELS, predictions, labels=[0, 1]).tolist()
    assert metrics["accuracy"] == pytest.approx(accuracy_score(LABELS, predictions))
    assert metrics["sensitivity"] == pytest.approx(recall_score(LABELS, predictions))
    assert metrics["specificity"] == pytest.approx(recall_score(LABELS, predictions, pos_label=0))
    assert metrics["f1"] == pytest.approx(f1_score(LABELS, predictions, zero_division=0))
    if predictions.any():
        assert metrics["precision"] == pytest.approx(precision_score(LABELS, predictions))
    else:
        assert np.isnan(metrics["precision"])
    if not predictions.all():
        assert metrics["npv"] == pytest.approx(precision_score(LABELS, predictions, pos_label=0))
    else:
        assert np.isnan(metrics["npv"])


def test_auroc_and_roc_curve_match_the_pairwise_definition() -> None:
    expected = pairwise_auroc(LABELS, PROBABILITIES)
    assert expected == pytest.approx(24 / 35)
    assert binary_metrics(LABELS, PROBABILITIES, 0.5)["auroc"] == pytest.approx(expected)
    roc = roc_points(LABELS, PROBABILITIES)
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(expected)


def test_roc_points_pass_through_every_operating_point() -> None:
    roc = roc_points(LABELS, PROBABILITIES)
    for fpr, tpr, threshold in zip(roc["fpr"][1:], roc["tpr"][1:], roc["thresholds"][1:]):
        metrics = binary_metrics(LABELS, PROBABILITIES, threshold)
        assert (fpr, tpr) == pytest.approx((1 - metrics["specificity"], metrics["sensitivity"]))


def test_pr_points_pass_through_every_operating_point() -> None:
    pr = pr_points(LABELS, PROBABILITIES)
    for precision, recall, threshold in zip(pr["precision"], pr["recall"], pr["thresholds"]):
        predictions = (threshold <= PROBABILITIES).astype(int)
        assert precision == pytest.approx(precision_score(LABELS, predictions))
        assert recall == pytest.approx(recall_score(LABELS, predictions))


def test_per_class_report_matches_precision_recall_fscore_support() -> None:
    predictions = (PROBABILITIES >= 0.5).astype(int)
    precision, recall, f1, support = precision_recall_fscore_support(LABELS, predictions, labels=[0, 1])
    report = per_class_report(LABELS, PROBABILITIES, 0.5)
    for k, name in enumerate(("NORMAL", "PNEUMONIA")):
        assert report[name]["precision"] == pytest.approx(precision[k])
        assert report[name]["recall"] == pytest.approx(recall[k])
        assert report[name]["f1-score"] == pytest.approx(f1[k])
        assert report[name]["support"] == support[k]
    assert report["accuracy"] == pytest.approx(accuracy_score(LABELS, predictions))


def test_threshold_sweep_equals_binary_metrics_at_each_threshold() -> None:
    thresholds = np.array(THRESHOLDS + list(PROBABILITIES))
    sweep = threshold_sweep(LABELS, PROBABILITIES, thresholds)
    for i, threshold in enumerate(thresholds):
        metrics = binary_metrics(LABELS, PROBABILITIES, threshold)
        for key in ("sensitivity", "specificity", "precision", "npv"):
            assert sweep[key][i] == pytest.approx(metrics[key], nan_ok=True), (key, threshold)


def test_threshold_sweep_counts_a_score_equal_to_the_threshold_as_positive() -> None:
    sweep = threshold_sweep(np.array([1, 0]), np.array([0.7, 0.3]), np.array([0.7, 0.7000001]))
    assert sweep["sensitivity"].tolist() == [1.0, 0.0]


def test_reliability_and_ece_on_a_hand_computed_example() -> None:
    labels = np.array([0, 0, 1, 1, 1, 0, 1])
    probabilities = np.array([0.05, 0.15, 0.12, 0.85, 0.95, 0.55, 1.0])
    bins = reliability(labels, probabilities, bins=10)
    # Filled bins: [0,.1) {0.05}, [.1,.2) {0.15, 0.12}, [.5,.6) {0.55}, [.8,.9) {0.85}, [.9,1] {0.95, 1.0}.
    assert bins["count"].tolist() == [1, 2, 0, 0, 0, 1, 0, 0, 1, 2]
    assert bins["mean_probability"][1] == pytest.approx(0.135)
    assert bins["observed_frequency"][1] == pytest.approx(0.5)
    gaps = 1 * 0.05 + 2 * abs(0.135 - 0.5) + 1 * 0.55 + 1 * 0.15 + 2 * abs(0.975 - 1.0)
    assert bins["ece"] == pytest.approx(gaps / 7)


def test_reliability_bins_match_scikit_learn_calibration_curve() -> None:
    # Off the bin edges: scikit-learn puts a score equal to an edge in the lower bin, reliability in the upper.
    probabilities = PROBABILITIES + 0.013
    bins = reliability(LABELS, probabilities, bins=10)
    observed, predicted = calibration_curve(LABELS, probabilities, n_bins=10, strategy="uniform")
    filled = bins["count"] > 0
    assert bins["observed_frequency"][filled] == pytest.approx(observed)
    assert bins["mean_probability"][filled] == pytest.approx(predicted)


def test_perfectly_calibrated_bins_have_zero_ece() -> None:
    labels = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    probabilities = np.array([0.25, 0.25, 0.25, 0.25, 0.75, 0.75, 0.75, 0.25 + 0.5])
    assert reliability(labels, probabilities)["ece"] == pytest.approx(0.0)


def test_most_confident_errors_orders_by_how_wrong_the_model_is() -> None:
    errors = most_confident_errors(LABELS, PROBABILITIES, 0.5, count=5)
    # False negatives: pneumonias under 0.5 (0.23 at 7, 0.40 at 11); false positives: normals at or over 0.5.
    assert errors["false_negatives"].tolist() == [7, 11]
    assert errors["false_positives"].tolist() == [4, 2]
    assert most_confident_errors(LABELS, PROBABILITIES, 0.5, count=1)["false_positives"].tolist() == [4]


def test_stored_threshold_keeps_the_image_that_sets_it_positive(tmp_path) -> None:
    threshold = 0.5175340748719957
    scores = Scores(["a", "b"], np.array([1, 0]), np.array([0.1, -0.1]), np.array([threshold, 0.4]))
    write_scores(scores, tmp_path / "scores.csv")
    stored = read_scores(tmp_path / "scores.csv")
    assert binary_metrics(stored.labels, stored.probabilities, threshold)["sensitivity"] == 0.0
    assert binary_metrics(stored.labels, stored.probabilities, stored_threshold(threshold))["sensitivity"] == 1.0
