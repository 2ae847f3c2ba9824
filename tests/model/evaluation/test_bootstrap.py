"""Bootstrap intervals: weighted metrics equal the plain ones, and patients are resampled as wholes."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from model.evaluation.bootstrap import (
    HEADLINE_METRICS,
    confidence_intervals,
    patient_of,
    resample_weights,
    weighted_auroc,
    weighted_ece,
)
from model.evaluation.metrics import binary_metrics, reliability
from model.operating_point import calls_at

RNG = np.random.default_rng(7)
LABELS = RNG.integers(0, 2, 240)
PROBABILITIES = np.round(np.clip(RNG.normal(0.35 + 0.3 * LABELS, 0.2), 0, 1), 2)  # rounded: ties on purpose


def test_weighted_metrics_equal_sklearn_on_the_repeated_images():
    weights = RNG.integers(0, 4, (3, LABELS.size)).astype(float)
    weights[0] = 1.0
    for row, auroc, ece in zip(weights, weighted_auroc(weights, LABELS, PROBABILITIES),
                               weighted_ece(weights, LABELS, PROBABILITIES)):
        repeated = np.repeat(np.arange(LABELS.size), row.astype(int))
        assert auroc == pytest.approx(roc_auc_score(LABELS[repeated], PROBABILITIES[repeated]))
        assert ece == pytest.approx(reliability(LABELS[repeated], PROBABILITIES[repeated])["ece"])


@pytest.mark.parametrize(
    ("file", "patient"),
    [
        ("PNEUMONIA/person101_bacteria_483.jpeg", "person101"),
        ("person1000_virus_1681.jpeg", "person1000"),
        ("NORMAL/NORMAL2-IM-0206-0001.jpeg", "NORMAL2-IM-0206"),
        ("IM-0006-0001.jpeg", "IM-0006"),
        ("site/study_42.dcm", "study_42.dcm"),
    ],
)
def test_patient_is_read_from_kermany_file_names(file, patient):
    assert patient_of(file) == patient


def test_resampling_draws_whole_patients():
    groups = ["a", "a", "a", "b", "c", "c"]
    weights = resample_weights(groups, 200, seed=1)
    assert np.all(weights[:, 0] == weights[:, 1]) and np.all(weights[:, 1] == weights[:, 2])
    assert np.all(weights[:, 4] == weights[:, 5])
    assert np.all(weights[:, [0, 3, 4]].sum(axis=1) == 3)  # three patients drawn each time


def test_intervals_hold_the_estimate_and_are_reproducible():
    predictions = calls_at(PROBABILITIES, 0.5)
    groups = [str(i) for i in range(LABELS.size)]
    intervals = confidence_intervals(LABELS, PROBABILITIES, predictions, groups)
    point = binary_metrics(LABELS, PROBABILITIES, 0.5)
    assert set(intervals) == set(HEADLINE_METRICS)
    for name in HEADLINE_METRICS:
        low, high = intervals[name]
        assert low <= point[name] <= high, name
        assert high - low < 0.3, name
    assert intervals == confidence_intervals(LABELS, PROBABILITIES, predictions, groups)


def test_copies_of_one_patient_do_not_narrow_the_interval():
    """Five images of each patient carry the information of one: the interval must stay as wide."""
    predictions = calls_at(PROBABILITIES, 0.5)
    patients = [str(i) for i in range(LABELS.size)]
    single = confidence_intervals(LABELS, PROBABILITIES, predictions, patients)
    copies = np.repeat(np.arange(LABELS.size), 5)
    grouped = confidence_intervals(LABELS[copies], PROBABILITIES[copies], predictions[copies],
                                   [patients[i] for i in copies])
    ungrouped = confidence_intervals(LABELS[copies], PROBABILITIES[copies], predictions[copies],
                                     [str(i) for i in range(copies.size)])
    width = {name: (iv[1] - iv[0]) for name, iv in single.items()}
    for name in ("sensitivity", "specificity", "auroc"):
        assert grouped[name][1] - grouped[name][0] == pytest.approx(width[name], rel=0.25), name
        assert ungrouped[name][1] - ungrouped[name][0] < 0.7 * width[name], name
