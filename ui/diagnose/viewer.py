"""The reading-room viewer on the Diagnose page (review/viewer.py draws it).

Zoom, pan, fit and switching a layer happen in the browser. Window/level,
invert, the layers' opacity and Grad-CAM's threshold need the server: they
rerun this fragment only, not the page. Streamlit gives a chart whose
figure changed a new identity, so the browser then draws it afresh, at fit.
What the reader chose is kept per session and image, for the PDF.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from model.imaging.window import MANUAL, MIN_WIDTH, GreyLevels, full_range_window
from review.triage import Assessment
from review.viewer import (
    DEFAULT_OPACITY,
    DEFAULT_THRESHOLD,
    Layers,
    ViewerChoice,
    png_data_uri,
    viewer_figure,
    windowed,
)
from ui import state
from ui.shortcuts import FIT_VIEW, SWITCH_LAYERS

# Plotly in the browser: the wheel zooms, a drag pans, a double-click fits; no logo, no lasso.
VIEWER_CONFIG = {
    "scrollZoom": True, "displaylogo": False, "doubleClick": "reset",
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "toImage"],
}
HOW_TO_USE = (
    "Wheel to zoom, drag to pan, double-click to fit; both pictures move together. Click a layer in the legend to "
    f"switch it on or off. Keys: {FIT_VIEW} fit, {SWITCH_LAYERS} all layers on or off."
)


def viewer_choice(digest: str) -> ViewerChoice:
    """This reader's choices for this image, kept in their session only."""
    return st.session_state.setdefault(state.for_image(state.VIEWER_CHOICE, digest), ViewerChoice())


def _image_uri(digest: str, grey: GreyLevels, choice: ViewerChoice) -> tuple[np.ndarray, str]:
    """The windowed X-ray and its PNG, encoded once per window: opacity and threshold changes reuse it."""
    key = (digest, choice.describe(grey))
    kept = st.session_state.get(state.VIEWER_IMAGE)
    if kept is not None and kept[0] == key:
        return kept[1], kept[2]
    pixels = windowed(grey, choice)
    uri = png_data_uri(pixels)
    st.session_state[state.VIEWER_IMAGE] = (key, pixels, uri)
    return pixels, uri


def _fit_view(choice: ViewerChoice) -> None:
    choice.view_revision += 1


def _switch_layers(choice: ViewerChoice) -> None:
    choice.layers_on = not choice.layers_on
    choice.layers_revision += 1


def _window_controls(grey: GreyLevels, choice: ViewerChoice, digest: str) -> None:
    """The file's own windows by name, or a manual centre and width over the values it holds; invert."""
    window_column, invert_column, opacity_column, threshold_column = st.columns([3, 1.4, 2, 2])
    choice.preset = window_column.selectbox(
        "Window", [preset.name for preset in grey.presets] + [MANUAL], key=state.for_image(state.VIEWER_WINDOW, digest),
        help="The file's own windows first (a DICOM's presets and VOI LUTs by name). The network sees the image as "
        "decoded, whatever window is shown.",
    )
    choice.invert = invert_column.toggle("Invert", key=state.for_image(state.VIEWER_INVERT, digest))
    choice.opacity = opacity_column.slider(
        "Layer opacity", 0.0, 1.0, DEFAULT_OPACITY, 0.05, key=state.HEATMAP_OPACITY
    )
    choice.threshold = threshold_column.slider(
        "Grad-CAM drawn from", 0.0, 0.95, DEFAULT_THRESHOLD, 0.05, key=state.GRAD_CAM_THRESHOLD,
        help="Grad-CAM's relative response below this is left clear, as reading-room viewers draw heat maps.",
    )
    if choice.preset == MANUAL:
        low, high = grey.value_range
        start = full_range_window(grey.values)
        centre_column, width_column = st.columns(2)
        choice.center = centre_column.slider(
            "Window centre", low, high, float(round(start.center)), 1.0, key=state.for_image(state.VIEWER_CENTRE, digest)
        )
        choice.width = width_column.slider(
            "Window width", MIN_WIDTH, float(start.width), float(start.width), 1.0,
            key=state.for_image(state.VIEWER_WIDTH, digest),
        )


@st.fragment
def viewer_panel(assessment: Assessment, layers: Layers) -> None:
    """The X-ray and the explained X-ray side by side; the controls above them rerun only this fragment."""
    digest = assessment.digest
    grey = assessment.image.grey_levels
    choice = viewer_choice(digest)
    _window_controls(grey, choice, digest)
    pixels, uri = _image_uri(digest, grey, choice)
    figure = viewer_figure(uri, pixels.shape, layers, choice, digest)
    st.plotly_chart(figure, config=VIEWER_CONFIG, key=state.for_image(state.VIEWER, digest), width="stretch")
    caption, fit, switch = st.columns([6, 1, 1.3], vertical_alignment="center")
    caption.caption(HOW_TO_USE)
    fit.button("Fit", icon=":material/fit_screen:", shortcut=FIT_VIEW, on_click=_fit_view, args=(choice,),
               key=state.VIEWER_FIT, width="stretch")
    switch.button("Layers", icon=":material/layers:", shortcut=SWITCH_LAYERS, on_click=_switch_layers,
                  args=(choice,), key=state.VIEWER_LAYERS, width="stretch")

