"""95 % bootstrap confidence intervals of the headline metrics, resampling patients.

A set of 150 X-rays says little on its own: a specificity of 0.85 from 59
normals could be 0.75 or 0.93. Every reported figure therefore carries a
percentile bootstrap interval. Images of one patient are not independent
(the same child, the same film setting), so whole patients are resampled
where the file names tell who they are. All resamples are computed at once
as weight vectors over the images, so an interval costs milliseconds.
"""
from __future__ import annotations

import re
from pathlib import PurePath

import numpy as np

from model.evaluation.metrics import RELIABILITY_BINS

BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_SEED = 0
CONFIDENCE = 0.95
HEADLINE_METRICS = ("auroc", "accuracy", "sensitivity", "specificity", "precision", "npv", "f1", "ece")
# Kermany et al. name files person<N>_<kind>_<k>.jpeg, IM-<N>-<k>.jpeg and NORMAL2-IM-<N>-<k>.jpeg,
# where N identifies the patient.
PATIENT_PATTERNS = (re.compile(r"^(person\d+)_"), re.compile(r"^((?:NORMAL\d*-)?IM-\d+)-\d+"))


def patient_of(file: str) -> str:
    """The patient a file belongs to, where its name tells; otherwise the file itself is its own group."""
    name = PurePath(file).name
    for pattern in PATIENT_PATTERNS:
        match = pattern.match(name)
        if match:
            return match.group(1)
    return name


def resample_weights(groups: list[str], resamples: int, seed: int) -> np.ndarray:
    """How often each image is drawn in each resample (rows), drawing whole groups with replacement."""
    _, group_of_image = np.unique(np.asarray(groups, dtype=object).astype(str), return_inverse=True)
    n_groups = int(group_of_image.max()) + 1 if len(groups) else 0
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_groups, np.full(n_groups, 1.0 / n_groups), size=resamples)
    return draws[:, group_of_image].astype(np.float64)


def weighted_auroc(weights: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUROC of each weighted resample: the weighted share of (pneumonia, normal) pairs ranked right, ties half."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    positive = labels[order] == 1
    negative_weight = weights[:, order] * ~positive
    cumulative = np.concatenate([np.zeros((len(weights), 1)), np.cumsum(negative_weight, axis=1)], axis=1)
    _, tie_start, tie_count = np.unique(sorted_scores, return_index=True, return_counts=True)
    start = np.repeat(tie_start, tie_count)
    end = start + np.repeat(tie_count, tie_count)
    below = cumulative[:, start]
    tied = cumulative[:, end] - below
    positive_weight = weights[:, order] * positive
    pairs = positive_weight.sum(axis=1) * negative_weight.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sum(positive_weight * (below + 0.5 * tied), axis=1) / pairs


def weighted_ece(weights: np.ndarray, labels: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Expected calibration error of each weighted resample, with the bins of model.evaluation.metrics.reliability."""
    edges = np.linspace(0.0, 1.0, RELIABILITY_BINS + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, RELIABILITY_BINS - 1)
    in_bin = np.eye(RELIABILITY_BINS)[which]
    predicted = weights @ (in_bin * probabilities[:, np.newaxis])
    observed = weights @ (in_bin * labels[:, np.newaxis])
    return np.abs(predicted - observed).sum(axis=1) / weights.sum(axis=1)


def resampled_metrics(
    weights: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, predictions: np.ndarray
) -> dict[str, np.ndarray]:
    """Every headline metric of every resample (one value per row of `weights`).

    `predictions` may be fractional: the share of repeated calls that said PNEUMONIA.
    """
    positive, called = (labels == 1).astype(np.float64), np.asarray(predictions, dtype=np.float64)
    tp, fn = weights @ (positive * called), weights @ (positive * (1 - called))
    fp, tn = weights @ ((1 - positive) * called), weights @ ((1 - positive) * (1 - called))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "auroc": weighted_auroc(weights, labels, probabilities),
            "accuracy": (tp + tn) / (tp + tn + fp + fn),
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "precision": tp / (tp + fp),
            "npv": tn / (tn + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
            "ece": weighted_ece(weights, labels, probabilities),
        }


def confidence_intervals(
    labels: np.ndarray,
    probabilities: np.ndarray,
    predictions: np.ndarray,
    groups: list[str],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> dict[str, list[float]]:
    """Percentile intervals [low, high] at CONFIDENCE of each headline metric; NaN where undefined.

    `predictions` are the calls being judged: usually probability >=
    threshold (0/1), or the share of cross-fitted calls that said PNEUMONIA.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predictions = np.asarray(predictions, dtype=np.float64)
    if labels.size == 0:
        return {name: [float("nan"), float("nan")] for name in HEADLINE_METRICS}
    values = resampled_metrics(resample_weights(groups, resamples, seed), labels, probabilities, predictions)
    tail = 100 * (1 - CONFIDENCE) / 2
    intervals = {}
    for name in HEADLINE_METRICS:
        finite = values[name][np.isfinite(values[name])]
        intervals[name] = (
            [float(v) for v in np.percentile(finite, [tail, 100 - tail])] if finite.size else [np.nan, np.nan]
        )
    return intervals
