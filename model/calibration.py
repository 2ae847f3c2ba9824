"""Temperature scaling and the operating threshold, and the record of which images they were fitted on."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import log_loss, roc_curve
from sklearn.model_selection import StratifiedGroupKFold

from model.card import FittedOn, ModelCard, Provenance
from model.dataset import CLASS_NAMES
from model.evaluation.bootstrap import patient_of
from model.operating_point import calibrated_probability, calls_at


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises validation log-loss (Guo et al., 2017)."""
    logits = np.asarray(logits, dtype=np.float64)

    def loss(log_t: float) -> float:
        return log_loss(labels, calibrated_probability(logits, np.exp(log_t)), labels=[0, 1])

    result = minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def choose_threshold(probabilities: np.ndarray, labels: np.ndarray, target_sensitivity: float) -> float:
    """The highest threshold whose sensitivity reaches the target: best specificity under that constraint.

    Works on any score that orders images the same way (probabilities or logits).

    A missed pneumonia costs more than a false alarm, so sensitivity is the
    constraint and specificity what is optimised.
    """
    _, tpr, thresholds = roc_curve(labels, probabilities)
    meets = np.flatnonzero(tpr >= target_sensitivity)
    threshold = thresholds[meets[0]]
    # roc_curve's first threshold is +inf (nothing called positive); a target of 0 lands there.
    return float(threshold if np.isfinite(threshold) else np.max(probabilities))


TEMPERATURE_METHOD = "the T that minimises the log-loss of sigmoid(logit / T) on these images (Guo et al., 2017)"
THRESHOLD_METHOD = (
    "the highest threshold whose sensitivity on these images is at least the target sensitivity, "
    "which gives the best specificity under that constraint"
)


def file_list_digest(files: list[str]) -> str:
    """SHA-256 of the sorted relative file names: says later which images an operating point was fitted on."""
    return hashlib.sha256("\n".join(sorted(files)).encode("utf-8")).hexdigest()


def operating_point_record(
    name: str,
    folder: str,
    labels: np.ndarray,
    files: list[str],
    fitted_at: datetime,
    previous: dict | None,
) -> Provenance:
    """What the model card says about where its temperature and threshold come from."""
    return Provenance(
        fitted_on=FittedOn(
            name=name,
            folder=folder,
            counts={class_name: int((labels == k).sum()) for k, class_name in enumerate(CLASS_NAMES)},
            patients=len({patient_of(file) for file in files}),
            files_sha256=file_list_digest(files),
        ),
        fitted_at=fitted_at.isoformat(timespec="seconds"),
        method={"temperature": TEMPERATURE_METHOD, "threshold": THRESHOLD_METHOD},
        previous=previous,
    )


CROSS_FIT_FOLDS = 5
CROSS_FIT_SEED = 0
# One assignment of 100-200 images to 5 folds moves the estimate by several points; averaging over
# assignments keeps what the figure measures (fit elsewhere, judge here) and removes that noise.
CROSS_FIT_REPEATS = 10


@dataclass
class CrossFitted:
    """Out-of-fold probabilities and calls: each fold scored with a temperature and threshold fitted on the others."""

    probabilities: np.ndarray
    predictions: np.ndarray
    fold_of: np.ndarray
    thresholds: list[float]
    temperatures: list[float]


def cross_fit(
    logits: np.ndarray, labels: np.ndarray, groups: list[str], target_sensitivity: float,
    folds: int = CROSS_FIT_FOLDS, seed: int = CROSS_FIT_SEED,
) -> CrossFitted:
    """An out-of-sample view of refitting on this set: no image is judged by a threshold chosen on it.

    The threshold refitted on all images meets the target sensitivity on them
    by construction; on the next patients it will do a little worse. Folds
    keep each patient's images together and both classes in every fold.
    """
    logits = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_folds = min(folds, int(np.bincount(labels, minlength=2).min()))
    if n_folds < 2:
        raise ValueError("Cross-fitting needs at least two images of each class.")
    probabilities = np.zeros(labels.size)
    predictions = np.zeros(labels.size, dtype=np.int64)
    fold_of = np.zeros(labels.size, dtype=np.int64)
    thresholds: list[float] = []
    temperatures: list[float] = []
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (fit, held) in enumerate(splitter.split(logits, labels, groups)):
        temperature = fit_temperature(logits[fit], labels[fit])
        threshold = choose_threshold(calibrated_probability(logits[fit], temperature), labels[fit], target_sensitivity)
        probabilities[held] = calibrated_probability(logits[held], temperature)
        predictions[held] = calls_at(probabilities[held], threshold)
        fold_of[held] = fold
        thresholds.append(threshold)
        temperatures.append(temperature)
    return CrossFitted(probabilities, predictions, fold_of, thresholds, temperatures)


def describe_operating_point(card: ModelCard) -> str:
    """The threshold rule in words, from the card: on which data, by which rule, replacing what."""
    point, provenance = card.point, card.provenance
    text = (
        f"Threshold {point.threshold:.3f} on the calibrated probability, temperature T = "
        f"{point.temperature:.3f}, both fitted on {card.fitted_on_phrase()} on {provenance.fitted_at[:10]}. "
        f"Threshold rule: {provenance.method['threshold']} (target {point.target_sensitivity:.0%}). "
        f"Temperature: {provenance.method['temperature']}."
    )
    crossed = (provenance.assessment or {}).get("cross_fitted")
    if crossed:
        text += (
            f" Cross-fitted on that set ({crossed['folds']} folds by patient, each judged by a threshold fitted on "
            f"the others, over {crossed['repeats']} fold assignments): sensitivity {crossed['sensitivity']:.3f}, "
            f"specificity {crossed['specificity']:.3f}."
        )
    previous = provenance.previous
    if previous:
        text += (
            f" It replaces the operating point of `{previous['version']}` (threshold {previous['threshold']:.3f}, "
            f"T = {previous['temperature']:.3f}, fitted on `{previous['fitted_on']}`)."
        )
    return text


@dataclass
class RepeatedCrossFit:
    """Cross-fitting repeated over fold assignments: each image's mean probability and the share of calls PNEUMONIA."""

    probabilities: np.ndarray
    call_rates: np.ndarray
    thresholds: list[float]
    folds: int
    repeats: int


def repeated_cross_fit(
    logits: np.ndarray, labels: np.ndarray, groups: list[str], target_sensitivity: float,
    repeats: int = CROSS_FIT_REPEATS,
) -> RepeatedCrossFit:
    """cross_fit over `repeats` seeded fold assignments, averaged per image."""
    runs = [cross_fit(logits, labels, groups, target_sensitivity, seed=CROSS_FIT_SEED + k) for k in range(repeats)]
    return RepeatedCrossFit(
        probabilities=np.mean([run.probabilities for run in runs], axis=0),
        call_rates=np.mean([run.predictions for run in runs], axis=0),
        thresholds=[t for run in runs for t in run.thresholds],
        folds=len(runs[0].thresholds),
        repeats=repeats,
    )
