"""The reading-room viewer on the Diagnose page: a Streamlit component (viewer.js, viewer.css) fed by review/viewer.py.

Zoom, pan, fit, the layers, their opacity and Grad-CAM's threshold happen in
the browser: no script run. Window/level and invert need the server: they
rerun this fragment only, which sends the X-ray in the new window; the
browser keeps the reader's zoom and layers for the same image. What the
reader chose is kept per session and image, for the PDF.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from model.imaging.window import MANUAL, MIN_WIDTH, GreyLevels, full_range_window
from review.triage import Assessment
from review.viewer import Layers, ViewerChoice, png_data_uri, viewer_data, windowed
from ui import state
from ui.shortcuts import FIT_VIEW, SWITCH_LAYERS

HERE = Path(__file__).parent
# No iframe and no script from elsewhere: the component's own code, mounted in the page (styles scoped by class).
XRAY_VIEWER = st.components.v2.component(
    "xray_viewer", js=(HERE / "viewer.js").read_text(), css=(HERE / "viewer.css").read_text(), isolate_styles=False
)
HOW_TO_USE = (
    "Wheel to zoom, drag to pan, double-click to fit; both pictures move together. Tick a layer to draw it. "
    f"Keys: {FIT_VIEW} fit, {SWITCH_LAYERS} all layers on or off."
)


def viewer_choice(digest: str) -> ViewerChoice:
    """This reader's choices for this image, kept in their session only."""
    return st.session_state.setdefault(state.for_image(state.VIEWER_CHOICE, digest), ViewerChoice())


def _image_uri(digest: str, grey: GreyLevels, choice: ViewerChoice) -> tuple[np.ndarray, str]:
    """The windowed X-ray and its PNG, encoded once per window: a rerun in the same window reuses it."""
    key = (digest, choice.describe(grey))
    kept = st.session_state.get(state.VIEWER_IMAGE)
    if kept is not None and kept[0] == key:
        return kept[1], kept[2]
    pixels = windowed(grey, choice)
    uri = png_data_uri(pixels)
    st.session_state[state.VIEWER_IMAGE] = (key, pixels, uri)
    return pixels, uri


def _window_controls(grey: GreyLevels, choice: ViewerChoice, digest: str) -> None:
    """The file's own windows by name, or a manual centre and width over the values it holds; invert."""
    window_column, invert_column = st.columns([3, 1], vertical_alignment="bottom")
    choice.preset = window_column.selectbox(
        "Window", [preset.name for preset in grey.presets] + [MANUAL], key=state.for_image(state.VIEWER_WINDOW, digest),
        help="The file's own windows first (a DICOM's presets and VOI LUTs by name). The network sees the image as "
        "decoded, whatever window is shown.",
    )
    choice.invert = invert_column.toggle("Invert", key=state.for_image(state.VIEWER_INVERT, digest))
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
    """The X-ray and the explained X-ray side by side; the window controls above them rerun only this fragment."""
    digest = assessment.digest
    grey = assessment.image.grey_levels
    choice = viewer_choice(digest)
    _window_controls(grey, choice, digest)
    pixels, uri = _image_uri(digest, grey, choice)
    keys = {"fit": FIT_VIEW.lower(), "layers": SWITCH_LAYERS.lower()}
    data = viewer_data(uri, pixels.shape, layers, digest, keys, HOW_TO_USE)
    XRAY_VIEWER(data=data, key=state.for_image(state.VIEWER, digest))
