"""Test-time-shift uncertainty of the real model on real X-rays."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from model.imaging.decode import read_image
from model.imaging.shifts import contrast
from model.inference import Classifier
from model.trust.uncertainty import UNCERTAIN_LABEL, Uncertainty, uncertainties, uncertainty


@pytest.fixture(scope="module")
def four_xrays(val_images) -> list[np.ndarray]:
    """Two NORMAL and two PNEUMONIA originals."""
    return [read_image(path).pixels for path, _ in val_images[:2] + val_images[-2:]]


@pytest.fixture(scope="module")
def results(classifier, four_xrays) -> list[Uncertainty]:
    return uncertainties(classifier, four_xrays)


def test_the_interval_contains_the_point_probability_and_the_mean(classifier, four_xrays, results):
    for pixels, result in zip(four_xrays, results):
        assert result.low <= result.probability <= result.high
        assert result.low <= result.mean <= result.high
        assert result.probability == pytest.approx(classifier.probability_of(pixels), abs=1e-5)
        assert result.threshold == classifier.threshold


def test_the_shifted_copies_do_move_the_probability(results):
    assert all(result.high > result.low for result in results)


def test_one_image_matches_the_batch(classifier, four_xrays, results):
    single = uncertainty(classifier, four_xrays[2])
    assert single.low == pytest.approx(results[2].low, abs=1e-5)
    assert single.high == pytest.approx(results[2].high, abs=1e-5)


def at_threshold(classifier: Classifier, threshold: float) -> Classifier:
    return Classifier(classifier.network, replace(classifier.card, point=replace(classifier.point, threshold=threshold)))


def test_a_threshold_inside_the_interval_marks_the_image_uncertain(classifier, four_xrays, results):
    inside = (results[0].low + results[0].high) / 2
    result = uncertainty(at_threshold(classifier, inside), four_xrays[0])
    assert result.straddles_threshold
    assert result.label == UNCERTAIN_LABEL
    for outside in (results[0].low / 2, (results[0].high + 1) / 2):
        result = uncertainty(at_threshold(classifier, outside), four_xrays[0])
        assert not result.straddles_threshold
        assert result.label == ""


@pytest.mark.parametrize(
    ("low", "high", "straddles"),
    [(0.3, 0.6, True), (0.5, 0.7, False), (0.2, 0.5, True), (0.2, 0.49, False)],
)
def test_straddling_follows_the_threshold_rule(low, high, straddles):
    """PNEUMONIA is probability >= threshold, so an interval starting at the threshold never flips."""
    assert Uncertainty(low, (low + high) / 2, low, high, 0.5).straddles_threshold is straddles


def test_no_images_need_no_forward_pass(classifier):
    assert uncertainties(classifier, []) == []


@pytest.mark.parametrize("factor", [0.6, 0.85, 1.15, 1.4])
def test_the_contrast_shift_scales_deviations_from_the_mean_grey(four_xrays, factor):
    pixels = four_xrays[0]
    mean = pixels.mean()
    expected = np.clip(mean + factor * (pixels.astype(np.float32) - mean), 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(contrast(factor)(pixels), expected)
