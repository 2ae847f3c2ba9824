"""Temperature scaling recovers a known temperature; the threshold is the best one meeting the sensitivity;
cross-fitting never judges an image by a threshold fitted on it."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import confusion_matrix

from model.calibration import CROSS_FIT_FOLDS, choose_threshold, cross_fit, fit_temperature, repeated_cross_fit
from model.evaluation.metrics import call_metrics
from model.operating_point import calibrated_probability


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


def test_cross_fitting_judges_each_fold_by_a_threshold_fitted_on_the_others():
    rng = np.random.default_rng(3)
    labels = np.r_[np.zeros(60, int), np.ones(100, int)]
    logits = rng.normal(0, 1.5, labels.size) + 3.0 * labels
    groups = [f"patient{i // 2}" for i in range(labels.size)]  # two images per patient
    crossed = cross_fit(logits, labels, groups, 0.95)
    assert len(crossed.thresholds) == CROSS_FIT_FOLDS == len(np.unique(crossed.fold_of))
    for group in set(groups):
        members = [i for i, g in enumerate(groups) if g == group]
        assert len(set(crossed.fold_of[members])) == 1, "a patient's images stay in one fold"
    for fold, (threshold, temperature) in enumerate(zip(crossed.thresholds, crossed.temperatures)):
        held, fit = crossed.fold_of == fold, crossed.fold_of != fold
        assert temperature == pytest.approx(fit_temperature(logits[fit], labels[fit]))
        fitted = calibrated_probability(logits[fit], temperature)
        assert threshold == pytest.approx(choose_threshold(fitted, labels[fit], 0.95))
        assert np.allclose(crossed.probabilities[held], calibrated_probability(logits[held], temperature))
        assert np.array_equal(crossed.predictions[held], crossed.probabilities[held] >= threshold)


def test_cross_fitting_needs_both_classes_in_every_fold():
    with pytest.raises(ValueError, match="two images of each class"):
        cross_fit(np.array([0.1, 0.2, 0.3]), np.array([0, 1, 1]), ["a", "b", "c"], 0.95)


def test_threshold_on_logits_picks_the_same_images_as_on_probabilities():
    rng = np.random.default_rng(4)
    labels = np.r_[np.zeros(50, int), np.ones(80, int)]
    logits = rng.normal(0, 2, labels.size) + 5.0 * labels  # many logits above 1
    on_logits = choose_threshold(logits, labels, 0.95)
    on_probabilities = choose_threshold(expit(logits), labels, 0.95)
    assert on_logits > 1.0
    assert np.array_equal(logits >= on_logits, expit(logits) >= on_probabilities)


def test_repeated_cross_fitting_averages_the_fold_assignments():
    rng = np.random.default_rng(5)
    labels = np.r_[np.zeros(40, int), np.ones(60, int)]
    logits = rng.normal(0, 1.5, labels.size) + 2.5 * labels
    groups = [str(i) for i in range(labels.size)]
    repeated = repeated_cross_fit(logits, labels, groups, 0.95, repeats=3)
    single = [cross_fit(logits, labels, groups, 0.95, seed=k) for k in range(3)]
    assert np.allclose(repeated.call_rates, np.mean([run.predictions for run in single], axis=0))
    sensitivity = call_metrics(labels, repeated.probabilities, repeated.call_rates)["sensitivity"]
    assert sensitivity == pytest.approx(np.mean([run.predictions[labels == 1].mean() for run in single]))
    assert len(repeated.thresholds) == 3 * repeated.folds
