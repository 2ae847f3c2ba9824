"""Which arithmetic runs where: calls in float32, explanations in bfloat16 where the CPU has it."""
from __future__ import annotations

import numpy as np
import pytest

from model.imaging.decode import read_image
from model.inference import load_classifier
from model.operating_point import calibrated_probability
from model.precision import AUTO, FLOAT32, MIXED_BFLOAT16, PRECISION_ENV, resolve_precision

LOGIT_TOLERANCE = 0.1


def test_the_environment_overrides_auto(monkeypatch):
    monkeypatch.setenv(PRECISION_ENV, FLOAT32)
    assert resolve_precision(AUTO) == FLOAT32
    assert resolve_precision(MIXED_BFLOAT16) == MIXED_BFLOAT16


def test_an_unknown_precision_is_refused(monkeypatch):
    monkeypatch.setenv(PRECISION_ENV, "float8")
    with pytest.raises(ValueError, match="Unknown precision"):
        resolve_precision(AUTO)


def test_calls_are_float32_and_only_the_explanations_run_in_bfloat16(artifacts_dir, val_images):
    """The page's number is the float32 one the threshold was fitted on; LIME's passes stay within 0.1 logit of it."""
    exact = load_classifier(artifacts_dir, FLOAT32)
    fast = load_classifier(artifacts_dir, MIXED_BFLOAT16)
    assert fast.precision == MIXED_BFLOAT16 and fast.network.dtype_policy.name == FLOAT32
    inputs = np.stack([exact.model_input(read_image(path).pixels) for path, _ in val_images])
    np.testing.assert_array_equal(fast.logits(inputs), exact.logits(inputs))
    np.testing.assert_array_equal(fast.probabilities(inputs), exact.probabilities(inputs))
    explained = fast.log_odds(inputs) * fast.temperature
    np.testing.assert_allclose(explained, exact.logits(inputs), atol=LOGIT_TOLERANCE)
    np.testing.assert_array_equal(
        calibrated_probability(explained, fast.temperature) >= fast.threshold,
        exact.probabilities(inputs) >= exact.threshold,
    )
    assert not np.array_equal(explained, exact.log_odds(inputs) * exact.temperature), "really bfloat16"
