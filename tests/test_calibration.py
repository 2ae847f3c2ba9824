"""Temperature scaling recovers a known temperature; the threshold is the best one meeting the sensitivity."""
from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.metrics import confusion_matrix

from model.calibration import calibrated_probability, choose_threshold, fit_temperature


def test_fit_temperature_recovers_overconfidence():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, 20_000)
    labels = (rng.random(true_logits.size) < expit(true_logits)).astype(int)
    temperature = fit_temperature(true_logits * 3.0, labels)
    assert abs(temperature - 3.0) < 0.2
    assert abs(fit_temperature(true_logits, labels) - 1.0) < 0.1


def test_threshold_is_best_specificity_at_target_sensitivity():
    rng = np.random.default_rng(2)
    labels = np.r_[np.zeros(300, int), np.ones(700, int)]
    probabilities = expit(rng.normal(0, 1, labels.size) + 2.5 * labels)
    threshold = choose_threshold(probabilities, labels, 0.95)

    def rates(t: float) -> tuple[float, float]:
        (tn, fp), (fn, tp) = confusion_matrix(labels, probabilities >= t, labels=[0, 1])
        return tp / (tp + fn), tn / (tn + fp)

    sensitivity, specificity = rates(threshold)
    assert sensitivity >= 0.95
    feasible = [rates(t)[1] for t in np.unique(probabilities) if rates(t)[0] >= 0.95]
    assert specificity == max(feasible)


def test_calibrated_probability_is_sigmoid_of_scaled_logit():
    logits = np.array([-4.0, 0.0, 2.0])
    assert np.allclose(calibrated_probability(logits, 2.0), expit(logits / 2.0))
