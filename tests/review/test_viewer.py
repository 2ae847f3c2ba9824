"""The viewer's figure: two linked panels, the plain image by default, layers in the page's colours and units."""
from __future__ import annotations

import base64

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
    EXPLAINED,
    LAYER_TRACES,
    PLAIN,
    ViewerChoice,
    colorscale,
    explanation_layers,
    png_data_uri,
    viewer_figure,
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


def figure_of(case, choice: ViewerChoice, label: int = 1, count: int = 5):
    explanation, cam = case
    return viewer_figure("data:image/png;base64,AAAA", SHAPE, explanation_layers(explanation, cam, label, count),
                         choice, DIGEST)


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


def test_the_plain_image_is_the_default_view_and_both_panels_are_linked(case):
    figure = figure_of(case, ViewerChoice())
    assert [trace.type for trace in figure.data] == ["image", "image", "heatmap", "heatmap", "heatmap"]
    assert figure.data[PLAIN].source == figure.data[EXPLAINED].source
    assert all(figure.data[index].visible == "legendonly" for index in LAYER_TRACES.values()), "every layer off"
    assert all(figure.data[index].showlegend for index in LAYER_TRACES.values()), "each switched by its legend entry"
    assert figure.layout.xaxis2.matches == "x" and figure.layout.yaxis2.matches == "y"
    assert figure.layout.dragmode == "pan"


def test_layers_cover_the_image_exactly_at_its_own_aspect(case):
    figure = figure_of(case, ViewerChoice())
    for index in LAYER_TRACES.values():
        trace = figure.data[index]
        rows, columns = np.asarray(trace.z).shape
        assert trace.x0 - trace.dx / 2 == pytest.approx(-0.5) and trace.y0 - trace.dy / 2 == pytest.approx(-0.5)
        assert trace.x0 + (columns - 0.5) * trace.dx == pytest.approx(SHAPE[1] - 0.5)
        assert trace.y0 + (rows - 0.5) * trace.dy == pytest.approx(SHAPE[0] - 0.5)


def test_colours_and_legends_are_the_pages_own(case):
    figure = figure_of(case, ViewerChoice())
    lime_for, lime_against, cam = (figure.data[index] for index in LAYER_TRACES.values())
    assert [list(stop) for stop in lime_for.colorscale] == colorscale(LIME_COLORMAP)
    assert [list(stop) for stop in cam.colorscale] == colorscale(GRAD_CAM_COLORMAP)
    assert lime_for.zmin == -lime_for.zmax and lime_against.zmax == lime_for.zmax, "white is 'no effect' on both"
    assert lime_for.colorbar.title.text == "change in log-odds of pneumonia"
    assert cam.colorbar.title.text == GRAD_CAM_COLORBAR_LABEL.replace("\n", "<br>")
    purple = colormaps[LIME_COLORMAP](1.0)[:3]
    assert colorscale(LIME_COLORMAP)[-1][1] == "rgb({},{},{})".format(*(round(255 * c) for c in purple))


def test_opacity_threshold_and_the_layers_key_come_from_the_readers_choice(case):
    choice = ViewerChoice(opacity=0.7, threshold=0.5, layers_on=True)
    figure = figure_of(case, choice)
    assert all(figure.data[index].opacity == 0.7 for index in LAYER_TRACES.values())
    assert all(figure.data[index].visible is True for index in LAYER_TRACES.values())
    cam = np.asarray(figure.data[LAYER_TRACES["grad_cam"]].z, dtype=float)
    drawn = cam[~np.isnan(cam)]
    assert drawn.size and drawn.min() >= 0.5, "below the threshold Grad-CAM is left clear"
    assert np.isnan(cam).any()


def test_the_browser_forgets_zoom_or_layer_switches_only_when_asked_or_for_another_image(case):
    choice = ViewerChoice()
    before = figure_of(case, choice).layout
    choice.view_revision += 1
    fitted = figure_of(case, choice).layout
    assert fitted.uirevision != before.uirevision and fitted.legend.uirevision == before.legend.uirevision
    choice.layers_revision += 1
    switched = figure_of(case, choice).layout
    assert switched.legend.uirevision != fitted.legend.uirevision and switched.uirevision == fitted.uirevision
    other = viewer_figure("data:,", SHAPE, explanation_layers(*case, 1, 5), choice, "e" * 64).layout
    assert other.uirevision != switched.uirevision


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
