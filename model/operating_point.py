"""How a logit becomes a call: the temperature, the threshold and the rule that compares them.

Every call in the project (the page's, the triage table's, the metrics', the
CLIs') goes through `calls_at` or an OperatingPoint, so "probability at or above
the threshold is PNEUMONIA" is written once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit


def calibrated_probability(logits: np.ndarray, temperature: float) -> np.ndarray:
    """sigmoid(logit / T): the probability the temperature was fitted to make honest."""
    return expit(np.asarray(logits, dtype=np.float64) / temperature)


def calls_at(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """1 PNEUMONIA where a probability (or any score on the threshold's scale) reaches the threshold, else 0."""
    return (np.asarray(probabilities) >= threshold).astype(np.int64)


@dataclass(frozen=True)
class OperatingPoint:
    """The temperature and threshold fitted on calibration data, and the sensitivity the threshold was chosen for."""

    temperature: float
    threshold: float
    target_sensitivity: float

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        return calibrated_probability(logits, self.temperature)

    def calls(self, probabilities: np.ndarray) -> np.ndarray:
        return calls_at(probabilities, self.threshold)

    def label_of(self, probability: float) -> int:
        """0 NORMAL or 1 PNEUMONIA for one calibrated probability."""
        return int(calls_at(probability, self.threshold))
