"""Temperature scaling and the operating threshold, both fitted on validation scores."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import expit
from sklearn.metrics import log_loss, roc_curve


def calibrated_probability(logits: np.ndarray, temperature: float) -> np.ndarray:
    return expit(np.asarray(logits, dtype=np.float64) / temperature)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises validation log-loss (Guo et al., 2017)."""
    logits = np.asarray(logits, dtype=np.float64)

    def loss(log_t: float) -> float:
        return log_loss(labels, calibrated_probability(logits, np.exp(log_t)), labels=[0, 1])

    result = minimize_scalar(loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def choose_threshold(probabilities: np.ndarray, labels: np.ndarray, target_sensitivity: float) -> float:
    """The highest threshold whose sensitivity reaches the target: best specificity under that constraint.

    A missed pneumonia costs more than a false alarm, so sensitivity is the
    constraint and specificity what is optimised.
    """
    _, tpr, thresholds = roc_curve(labels, probabilities)
    meets = np.flatnonzero(tpr >= target_sensitivity)
    return float(min(thresholds[meets[0]], 1.0))
