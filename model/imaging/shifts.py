"""Acquisition shifts applied to a decoded X-ray: exposure, contrast, framing, sharpness.

Later X-rays differ from the training ones in these ways; the robustness
benchmark measures the model under each, and test-time averaging uses the
mild ones.
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from skimage import exposure

from model.inference import BATCH_SIZE, Classifier

Shift = Callable[[np.ndarray], np.ndarray]


def gamma(value: float) -> Shift:
    return lambda pixels: exposure.adjust_gamma(pixels, value)


def contrast(factor: float) -> Shift:
    """Scale deviations from the mean grey level (a flatter or harsher film)."""
    def apply(pixels: np.ndarray) -> np.ndarray:
        # As a lookup table over the 256 grey levels: the same arithmetic, without full-resolution temporaries.
        mean = pixels.mean()
        levels = np.arange(256, dtype=np.float32)
        return cv2.LUT(pixels, np.clip(mean + factor * (levels - mean), 0, 255).astype(np.uint8))

    return apply


def brightness(offset: int) -> Shift:
    return lambda pixels: np.clip(pixels.astype(np.int16) + offset, 0, 255).astype(np.uint8)


def crop(keep: float) -> Shift:
    """Keep the central `keep` fraction of each side (a tighter collimation)."""
    def apply(pixels: np.ndarray) -> np.ndarray:
        height, width = pixels.shape
        dy, dx = int(height * (1 - keep) / 2), int(width * (1 - keep) / 2)
        return pixels[dy : height - dy, dx : width - dx]

    return apply


def pad(fraction: float) -> Shift:
    """Add a black border of `fraction` of each side (a wider field of view)."""
    def apply(pixels: np.ndarray) -> np.ndarray:
        height, width = pixels.shape
        dy, dx = int(height * fraction), int(width * fraction)
        return cv2.copyMakeBorder(pixels, dy, dy, dx, dx, cv2.BORDER_CONSTANT, value=0)

    return apply


def translate(fraction_x: float, fraction_y: float) -> Shift:
    def apply(pixels: np.ndarray) -> np.ndarray:
        height, width = pixels.shape
        matrix = np.float32([[1, 0, fraction_x * width], [0, 1, fraction_y * height]])
        return cv2.warpAffine(pixels, matrix, (width, height), borderMode=cv2.BORDER_REFLECT)

    return apply


def blur(sigma: float) -> Shift:
    return lambda pixels: cv2.GaussianBlur(pixels, (0, 0), sigma * max(pixels.shape) / 1000)


BENCHMARK_SHIFTS: dict[str, Shift] = {
    "none": lambda pixels: pixels,
    "darker (gamma 1.6)": gamma(1.6),
    "brighter (gamma 0.6)": gamma(0.6),
    "flat contrast (x0.6)": contrast(0.6),
    "harsh contrast (x1.4)": contrast(1.4),
    "brightness +40": brightness(40),
    "tight crop (80%)": crop(0.8),
    "wide field (+10% border)": pad(0.1),
    "shifted (5%, 5%)": translate(0.05, 0.05),
    "blurred": blur(2.0),
}

TEST_TIME_SHIFTS: dict[str, Shift] = {
    "none": lambda pixels: pixels,
    "crop 92%": crop(0.92),
    "shift left": translate(-0.03, 0.0),
    "shift right": translate(0.03, 0.0),
    "gamma 0.85": gamma(0.85),
    "gamma 1.15": gamma(1.15),
    "contrast 0.85": contrast(0.85),
    "contrast 1.15": contrast(1.15),
}


def probabilities_under_shifts(
    classifier: Classifier, images: list[np.ndarray], shifts: dict[str, Shift]
) -> np.ndarray:
    """Calibrated probabilities of each decoded image (rows) under each shift (columns).

    All copies of a group of images go through the network in one batch
    instead of one call per shift (the fixed cost of a call is most of the
    time for a single upload); groups keep a large folder's copies from all
    being held at once.
    """
    group = max(1, BATCH_SIZE // len(shifts))
    rows = []
    for start in range(0, len(images), group):
        members = images[start : start + group]
        inputs = np.stack([classifier.model_input(shift(pixels)) for pixels in members for shift in shifts.values()])
        rows.append(classifier.probabilities(inputs).reshape(len(members), len(shifts)))
    return np.concatenate(rows) if rows else np.zeros((0, len(shifts)))
