"""Metrics at an operating threshold, curves and calibration, from per-image scores.

Everything the app and the evaluation CLI report is computed here from
(label, probability) pairs, so any figure can be redrawn at another threshold.
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    classification_report,
    confusion_matrix,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

from model.dataset import CLASS_NAMES
from model.operating_point import calls_at

RELIABILITY_BINS = 10


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else float("nan")


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """Counts and rates at `threshold`, with PNEUMONIA as the positive class."""
    return {"threshold": float(threshold), **call_metrics(labels, probabilities, calls_at(probabilities, threshold))}


def call_metrics(labels: np.ndarray, probabilities: np.ndarray, predictions: np.ndarray) -> dict:
    """Counts and rates of given calls, and the ranking and calibration of the probabilities.

    Calls are 0/1, or fractional where each is the share of repeated calls
    (cross-fitting over several fold assignments) that said PNEUMONIA; the
    confusion matrix then holds mean counts.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    calls = np.asarray(predictions, dtype=np.float64)
    whole = bool(np.all(calls == np.round(calls)))
    if whole:
        (tn, fp), (fn, tp) = confusion_matrix(labels, calls.astype(np.int64), labels=[0, 1])
    else:
        tp, fn = float(calls[labels == 1].sum()), float((1 - calls[labels == 1]).sum())
        fp, tn = float(calls[labels == 0].sum()), float((1 - calls[labels == 0]).sum())
    count = int if whole else (lambda value: round(float(value), 2))
    both_classes = len(np.unique(labels)) == 2
    return {
        "n": int(labels.size),
        "accuracy": _ratio(tp + tn, labels.size),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "precision": _ratio(tp, tp + fp),
        "npv": _ratio(tn, tn + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "auroc": float(roc_auc_score(labels, probabilities)) if both_classes else float("nan"),
        "average_precision": float(average_precision_score(labels, probabilities)) if both_classes else float("nan"),
        "ece": reliability(labels, probabilities)["ece"] if labels.size else float("nan"),
        "confusion_matrix": [[count(tn), count(fp)], [count(fn), count(tp)]],
    }


def per_class_report(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict:
    """scikit-learn's classification report (precision, recall, F1, support per class)."""
    return classification_report(
        labels,
        calls_at(probabilities, threshold),
        labels=[0, 1],
        target_names=list(CLASS_NAMES),
        output_dict=True,
        zero_division=0,
    )


def roc_points(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, np.ndarray]:
    fpr, tpr, thresholds = roc_curve(labels, probabilities)
    return {"fpr": fpr, "tpr": tpr, "thresholds": thresholds}


def pr_points(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, np.ndarray]:
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    return {"precision": precision, "recall": recall, "thresholds": thresholds}


def reliability(labels: np.ndarray, probabilities: np.ndarray, bins: int = RELIABILITY_BINS) -> dict:
    """Per-bin mean confidence and observed frequency, and the expected calibration error."""
    labels = np.asarray(labels, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    mean_probability = np.bincount(which, weights=probabilities, minlength=bins)
    observed = np.bincount(which, weights=labels, minlength=bins)
    filled = counts > 0
    mean_probability[filled] /= counts[filled]
    observed[filled] /= counts[filled]
    ece = float(np.sum(counts[filled] / labels.size * np.abs(mean_probability[filled] - observed[filled])))
    return {
        "bin_edges": edges,
        "count": counts,
        "mean_probability": mean_probability,
        "observed_frequency": observed,
        "ece": ece,
    }


def threshold_sweep(labels: np.ndarray, probabilities: np.ndarray, thresholds: np.ndarray) -> dict[str, np.ndarray]:
    """Sensitivity, specificity, PPV and NPV at many thresholds at once (NaN where undefined).

    Counting with sorted scores keeps the threshold explorer's curves cheap to
    redraw; at any one threshold the numbers equal binary_metrics'.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    positives = np.sort(probabilities[labels == 1])
    negatives = np.sort(probabilities[labels == 0])
    tp = positives.size - np.searchsorted(positives, thresholds, side="left")
    fp = negatives.size - np.searchsorted(negatives, thresholds, side="left")
    fn = positives.size - tp
    tn = negatives.size - fp
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "threshold": thresholds,
            "sensitivity": tp / (tp + fn),
            "specificity": tn / (tn + fp),
            "precision": tp / (tp + fp),
            "npv": tn / (tn + fn),
        }


def most_confident_errors(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, count: int
) -> dict[str, np.ndarray]:
    """Indices of the false negatives with the lowest and the false positives with the highest probability.

    These are the cases the model gets wrong while sounding sure, the ones
    worth looking at first.
    """
    labels = np.asarray(labels, dtype=np.int64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    predictions = calls_at(probabilities, threshold)
    false_negatives = np.flatnonzero((labels == 1) & (predictions == 0))
    false_positives = np.flatnonzero((labels == 0) & (predictions == 1))
    return {
        "false_negatives": false_negatives[np.argsort(probabilities[false_negatives], kind="stable")][:count],
        "false_positives": false_positives[np.argsort(-probabilities[false_positives], kind="stable")][:count],
    }


def with_interval(metrics: dict, key: str) -> str:
    """'0.912 [0.870, 0.945]' where the metrics carry a 95 % interval for `key`, else '0.912'."""
    low_high = metrics.get("intervals", {}).get(key)
    text = f"{metrics[key]:.3f}"
    return f"{text} [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else text


def format_summary(metrics: dict, title: str) -> str:
    """A few readable lines for the terminal, with 95 % intervals in brackets where known."""
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    return "\n".join(
        [
            f"{title}: {metrics['n']} images, threshold {metrics['threshold']:.3f}",
            f"  accuracy {with_interval(metrics, 'accuracy')}  AUROC {with_interval(metrics, 'auroc')}  "
            f"ECE {with_interval(metrics, 'ece')}",
            f"  sensitivity {with_interval(metrics, 'sensitivity')}  specificity {with_interval(metrics, 'specificity')}",
            f"  precision {metrics['precision']:.3f}  F1 {metrics['f1']:.3f}  "
            f"confusion [[TN {tn}, FP {fp}], [FN {fn}, TP {tp}]]",
        ]
    )
