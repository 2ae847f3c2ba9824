"""The viewer's data: the X-ray once, the layers off by default, in the page's colours and units, coded losslessly
enough to read their values back."""
from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import pytest
from matplotlib import colormaps

from model.explain.figures import GRAD_CAM_COLORBAR_LABEL
from model.explain.grad_cam import grad_cam
from model.explain.lime import LimeSettings, explain_with_lime
from model.explain.views import GRAD_CAM_COLORMAP, LIME_COLORMAP
from model.imaging.decode import read_image
from model.imaging.window import MANUAL, eight_bit_levels
from review.viewer import (
    DEFAULT_OPACITY,
    DEFAULT_THRESHOLD,
    FIRST_CODE,
    LAST_CODE,
    NOTHING,
    ViewerChoice,
    colour_table,
    explanation_layers,
    png_data_uri,
    viewer_data,
    windowed,
)

FAST = LimeSettings(num_samples=200)
SHAPE = (300, 400)  # an X-ray wider than tall, as the viewer draws it
DIGEST = "d" * 64


@pytest.fixture(scope="module")
def case(classifier, val_images):
    pixels = read_image(val_images[-1][0]).pixels
    model_input = classifier.model_input(pixels)
    explanation = explain_with_lime(classifier, model_input, FAST)
    return explanation, grad_cam(classifier.network, model_input, 1)


KEYS = {"fit": "f", "layers": "o"}


def data_of(case, label: int = 1, count: int = 5, image: str = "data:image/png;base64,AAAA") -> dict:
    explanation, cam = case
    return viewer_data(image, SHAPE, explanation_layers(explanation, cam, label, count), DIGEST, KEYS, "how to")


def codes_of(data: dict, layer: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(layer["codes"]), np.uint8).reshape(data["grid"], data["grid"])


def values_of(data: dict, layer: dict) -> np.ndarray:
    """What viewer.js reads from a layer's codes, NaN where nothing is drawn."""
    codes, scale = codes_of(data, layer).astype(float), data["codes"]
    share = (codes - scale["first"]) / (scale["last"] - scale["first"])
    return np.where(codes == scale["nothing"], np.nan, layer["low"] + share * (layer["high"] - layer["low"]))


def test_layers_hold_the_strongest_regions_of_each_sign_and_nothing_else(case):
    explanation, cam = case
    layers = explanation_layers(explanation, cam, 1, 3)
    shown_for = layers.lime_for[~np.isnan(layers.lime_for)]
    shown_against = layers.lime_against[~np.isnan(layers.lime_against)]
    assert shown_for.size and np.all(shown_for > 0) and np.all(shown_against < 0)
    regions_for = np.unique(explanation.segments[~np.isnan(layers.lime_for)])
    assert len(regions_for) <= 3
    np.testing.assert_array_equal(np.sort(regions_for), np.sort(explanation.supporting_regions(1, 3)))
    assert layers.lime_limit == pytest.approx(np.abs(explanation.weights[1]).max())


def test_the_image_goes_once_and_every_layer_starts_off_in_the_pages_order(case):
    xray = "data:image/png;base64," + "X" * 4000
    data = data_of(case, image=xray)
    assert data["image"] == xray
    assert (data["height"], data["width"]) == SHAPE
    assert [layer["id"] for layer in data["layers"]] == ["lime_for", "lime_against", "grad_cam"]
    assert data["titles"] == ["X-ray", "With the evidence for PNEUMONIA"]
    assert (data["opacity"], data["threshold"]) == (DEFAULT_OPACITY, DEFAULT_THRESHOLD)
    assert data["id"] == DIGEST, "the browser keeps the view and layer switches per image"
    assert (data["keys"], data["help"]) == (KEYS, "how to")
    assert json.dumps(data).count(xray) == 1, "the X-ray is sent once, not once per panel or layer"
    json.dumps(data)  # all of it goes to the browser as JSON


def test_layer_codes_keep_nothing_apart_and_values_within_half_a_code(case):
    explanation, cam = case
    layers = explanation_layers(explanation, cam, 1, 3)
    data = data_of(case, count=3)
    assert data["codes"] == {"nothing": NOTHING, "first": FIRST_CODE, "last": LAST_CODE}
    for layer, values in zip(data["layers"], (layers.lime_for, layers.lime_against, layers.grad_cam)):
        codes = codes_of(data, layer)
        assert codes.shape == values.shape
        np.testing.assert_array_equal(codes == NOTHING, np.isnan(values))
        step = (layer["high"] - layer["low"]) / (LAST_CODE - FIRST_CODE)
        drawn = ~np.isnan(values)
        assert np.max(np.abs(values_of(data, layer)[drawn] - values[drawn])) <= step / 2 + 1e-6


def test_colours_and_legends_are_the_pages_own(case):
    lime_for, lime_against, cam = data_of(case)["layers"]
    assert lime_for["lut"] == colour_table(LIME_COLORMAP) and cam["lut"] == colour_table(GRAD_CAM_COLORMAP)
    assert len(cam["lut"]) == 256
    assert lime_for["low"] == -lime_for["high"] and lime_against["high"] == lime_for["high"], "white is no effect"
    assert lime_for["title"] == "change in log-odds of pneumonia" and lime_for["signed"]
    assert cam["title"] == GRAD_CAM_COLORBAR_LABEL.replace("\n", " ")
    assert (cam["low"], cam["high"], cam["thresholded"]) == (0.0, 1.0, True)
    assert not lime_for["thresholded"] and not lime_against["thresholded"]
    purple = colormaps[LIME_COLORMAP](1.0)[:3]
    assert colour_table(LIME_COLORMAP)[-1] == [round(255 * c) for c in purple]


def test_the_evidence_for_the_other_class_changes_the_layers_not_the_image(case):
    pneumonia, normal = data_of(case, label=1), data_of(case, label=0)
    assert normal["titles"][1] == "With the evidence for NORMAL"
    assert normal["layers"][0]["name"] == "LIME: regions for NORMAL"
    assert normal["layers"] != pneumonia["layers"] and normal["image"] == pneumonia["image"]


def test_the_image_goes_to_the_browser_losslessly_in_the_readers_window():
    pixels = np.tile(np.arange(256, dtype=np.uint8), (70, 1))
    uri = png_data_uri(pixels)
    decoded = cv2.imdecode(np.frombuffer(base64.b64decode(uri.split(",", 1)[1]), np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(decoded, pixels)
    grey = eight_bit_levels(pixels)
    choice = ViewerChoice(preset=MANUAL, center=128, width=64, invert=True)
    shown = windowed(grey, choice)
    assert shown[0, 0] == 255 and shown[0, 255] == 0, "inverted: dark values white"
    assert choice.describe(grey) == "Manual (centre 128, width 64), inverted"
    assert ViewerChoice().describe(grey) == "Full range (centre 128, width 256)"
