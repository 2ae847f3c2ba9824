"""How much the probability moves under small, harmless changes to the image.

A calibrated probability says how often the model is right at that score on
average; it does not say how fragile this one answer is. Re-scoring mildly
shifted copies (model.imaging.shifts.TEST_TIME_SHIFTS: framing, exposure, contrast)
shows that: when the copies fall on both sides of the threshold, the call
hangs on details a second film could change, and a clinician should look.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.imaging.shifts import TEST_TIME_SHIFTS, probabilities_under_shifts
from model.inference import Classifier
from model.operating_point import calls_at

UNCERTAIN_LABEL = "uncertain — review"
UNSHIFTED = list(TEST_TIME_SHIFTS).index("none")


@dataclass(frozen=True)
class Uncertainty:
    """The probability of pneumonia and its range over the shifted copies.

    low and high are the smallest and largest probability over all copies,
    the unshifted one included, so low <= probability <= high.
    """

    probability: float
    mean: float
    low: float
    high: float
    threshold: float

    @property
    def straddles_threshold(self) -> bool:
        """Some copies are called PNEUMONIA and others NORMAL."""
        return bool(calls_at(self.low, self.threshold) != calls_at(self.high, self.threshold))

    @property
    def label(self) -> str:
        """UNCERTAIN_LABEL when the call flips within the interval, else ''."""
        return UNCERTAIN_LABEL if self.straddles_threshold else ""


def uncertainties(classifier: Classifier, images: list[np.ndarray]) -> list[Uncertainty]:
    """Uncertainty of several decoded X-rays; each shift scores all of them in one batch."""
    if not images:
        return []
    probabilities = probabilities_under_shifts(classifier, images, TEST_TIME_SHIFTS)
    return [
        Uncertainty(float(row[UNSHIFTED]), float(row.mean()), float(row.min()), float(row.max()), classifier.threshold)
        for row in probabilities
    ]


def uncertainty(classifier: Classifier, pixels: np.ndarray) -> Uncertainty:
    return uncertainties(classifier, [pixels])[0]
