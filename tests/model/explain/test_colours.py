"""Colours every reader can tell apart: checked by simulating the two common red-green colour-vision deficiencies.

The simulation is Machado, Oliveira and Fernandes (2009), full severity, applied in linear RGB; the
distance is CIEDE2000. Red against green, as the app drew LIME's regions before, falls to a
distance of 13 for a deuteranope; purple against orange keeps more than 50.
"""
from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps
from skimage.color import deltaE_ciede2000, rgb2lab

from model.explain.views import GRAD_CAM_COLORMAP, LIME_COLORMAP, OPPOSE_COLOR, SUPPORT_COLOR

MACHADO_2009 = {
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
}
MIN_DISTANCE = 40.0  # CIEDE2000; about 2.3 is a just-noticeable difference
RAINBOWS = {"jet", "rainbow", "turbo", "gist_rainbow", "hsv", "nipy_spectral", "gist_ncar"}


def to_linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def to_srgb(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def seen_with(deficiency: str, colour) -> np.ndarray:
    return to_srgb(MACHADO_2009[deficiency] @ to_linear(np.asarray(colour, dtype=float)))


def distance(first: np.ndarray, second: np.ndarray) -> float:
    return float(deltaE_ciede2000(rgb2lab(first[np.newaxis, np.newaxis]), rgb2lab(second[np.newaxis, np.newaxis]))[0, 0])


@pytest.mark.parametrize("deficiency", MACHADO_2009)
def test_regions_for_and_against_stay_apart_without_red_green_vision(deficiency):
    assert distance(seen_with(deficiency, SUPPORT_COLOR), seen_with(deficiency, OPPOSE_COLOR)) >= MIN_DISTANCE
    ends = [colormaps[LIME_COLORMAP](end)[:3] for end in (0.0, 1.0)]
    assert distance(seen_with(deficiency, ends[0]), seen_with(deficiency, ends[1])) >= MIN_DISTANCE


def test_the_simulation_tells_red_from_green_apart_poorly():
    """The check above can fail: the app's earlier green and red fall below the bar for a deuteranope."""
    assert distance(seen_with("deuteranopia", (0.1, 0.8, 0.2)), seen_with("deuteranopia", (0.9, 0.1, 0.1))) < 20


def test_grad_cam_lightness_rises_with_the_response_and_no_map_is_a_rainbow():
    lightness = rgb2lab(colormaps[GRAD_CAM_COLORMAP](np.linspace(0, 1, 64))[np.newaxis, :, :3])[0, :, 0]
    assert np.all(np.diff(lightness) > 0), "a reader ranks the response by lightness alone"
    turbo = rgb2lab(colormaps["turbo"](np.linspace(0, 1, 64))[np.newaxis, :, :3])[0, :, 0]
    assert not np.all(np.diff(turbo) > 0), "the check fails for a rainbow"
    assert not {GRAD_CAM_COLORMAP, LIME_COLORMAP} & RAINBOWS
