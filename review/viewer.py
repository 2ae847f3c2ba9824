"""The reading-room viewer: the X-ray and the explained X-ray side by side, zoom and pan linked, overlays as layers.

A plotly figure, so that what can happen in the browser does: zoom (wheel),
pan (drag), fit (double-click or the toolbar), and each layer switched on or
off by its legend entry, all without asking the server. The plain image is
the default view: every layer starts switched off. The layers are drawn at
the network's input resolution over the X-ray at up to VIEWER_LONG_SIDE
(model.explain.views) pixels, each stretched to the X-ray's own aspect as the network's square was
squashed from it.

No Streamlit here: the page (ui/diagnose/viewer.py) keeps what the reader
chose in a ViewerChoice and draws this figure.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import cv2
import numpy as np
import plotly.graph_objects as go
from matplotlib import colormaps

from model.classes import CLASS_NAMES
from model.explain.figures import GRAD_CAM_COLORBAR_LABEL, lime_colorbar_label
from model.explain.lime import LimeExplanation
from model.explain.views import GRAD_CAM_COLORMAP, LIME_COLORMAP
from model.imaging.window import MANUAL, GreyLevels, Preset, Window, render

# The figure's height follows the X-ray's aspect for two panels side by side in a page column of about
# PANEL_WIDTH pixels each, within these bounds; the legend and titles take FRAME_HEIGHT.
PANEL_WIDTH = 540
FRAME_HEIGHT = 90
MIN_HEIGHT, MAX_HEIGHT = 360, 820
DEFAULT_OPACITY = 0.45
DEFAULT_THRESHOLD = 0.2  # Grad-CAM below this relative response is not drawn
COLORSCALE_STEPS = 11
PNG_COMPRESSION = 1  # 60 ms for a 2048-pixel X-ray, lossless; level 3 took 160 ms for 1 % less
# Trace order in the figure; the layers follow the two pictures of the X-ray.
PLAIN, EXPLAINED = 0, 1
LAYER_TRACES = {"lime_for": 2, "lime_against": 3, "grad_cam": 4}
LEFT, RIGHT = (0.0, 0.49), (0.51, 1.0)  # the panels' shares of the figure's width


@dataclass
class ViewerChoice:
    """What one reader chose in the viewer, kept per session (never shared: it describes a patient's image).

    The page changes it and the PDF, drawn later, reads it. A new revision
    makes the figure differ, so the browser draws it afresh: fitted (view)
    or with every layer as layers_on says (layers).
    """

    preset: str = ""  # a preset's name, MANUAL, or "" for the one decoding used
    center: float = 0.0
    width: float = 0.0
    invert: bool = False
    opacity: float = DEFAULT_OPACITY
    threshold: float = DEFAULT_THRESHOLD
    layers_on: bool = False
    view_revision: int = 0
    layers_revision: int = 0

    def revisions(self, digest: str) -> tuple[str, str]:
        """Plotly's uirevisions: while they stay the same, a redraw of the same figure keeps the browser's zoom and
        layer switches."""
        return f"{digest}-{self.view_revision}", f"{digest}-{self.layers_revision}"

    def window(self, grey: GreyLevels) -> Preset:
        if self.preset == MANUAL:
            return Window(MANUAL, self.center, self.width)
        return grey.preset(self.preset)

    def describe(self, grey: GreyLevels) -> str:
        """The window as the PDF prints it."""
        return self.window(grey).describe() + (", inverted" if self.invert else "")


def windowed(grey: GreyLevels, choice: ViewerChoice) -> np.ndarray:
    """The X-ray as the reader chose to see it, 8-bit."""
    return render(grey, choice.window(grey), choice.invert)


def png_data_uri(pixels: np.ndarray) -> str:
    """A lossless image the browser decodes itself: sharp when zoomed, up to the viewer's size."""
    ok, encoded = cv2.imencode(".png", pixels, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise ValueError("The X-ray could not be encoded for the viewer.")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


@dataclass(frozen=True)
class Layers:
    """What the explained panel can draw over the X-ray, on the network's square input grid.

    lime_for and lime_against hold the weights (change in log-odds) of the
    strongest regions of each sign and NaN elsewhere, so the rest stays clear;
    lime_limit is the largest weight of either sign, the colour scale's end.
    """

    label: int
    lime_for: np.ndarray
    lime_against: np.ndarray
    lime_limit: float
    grad_cam: np.ndarray


def explanation_layers(explanation: LimeExplanation, cam: np.ndarray, label: int, count: int) -> Layers:
    """The `count` regions most for and most against `label`, and Grad-CAM of `label`."""
    weights = explanation.weights[label]
    weight_map = explanation.weight_map(label)

    def only(regions: np.ndarray) -> np.ndarray:
        """float32: the browser gets half the bytes of float64, and the colours need no more."""
        return np.where(explanation.mask(regions), weight_map, np.nan).astype(np.float32)

    return Layers(
        label=label,
        lime_for=only(explanation.supporting_regions(label, count)),
        lime_against=only(explanation.opposing_regions(label, count)),
        lime_limit=float(np.max(np.abs(weights))) or 1.0,
        grad_cam=np.asarray(cam, dtype=np.float32),
    )


def colorscale(name: str) -> list[list]:
    """A matplotlib colour map (the one source of the page's and the PDF's colours) as a plotly colour scale."""
    stops = np.linspace(0.0, 1.0, COLORSCALE_STEPS)
    colours = colormaps[name](stops)[:, :3]
    return [[float(t), "rgb({},{},{})".format(*(round(255 * c) for c in colour))] for t, colour in zip(stops, colours)]


def _on_grid(values: np.ndarray, shape: tuple[int, int]) -> dict:
    """Place a square map of the network's input over an image of `shape`, stretched to its aspect."""
    side = values.shape[0]
    dy, dx = shape[0] / side, shape[1] / side
    return {"z": values, "x0": -0.5 + dx / 2, "dx": dx, "y0": -0.5 + dy / 2, "dy": dy}


def _colorbar(title: str, x: float) -> dict:
    return {"title": {"text": title, "side": "right"}, "x": x, "len": 0.9, "thickness": 12}


def _axes(domain: tuple[float, float], anchor: str, **more) -> dict:
    return {"domain": list(domain), "anchor": anchor, "visible": False, **more}


def viewer_figure(
    image_uri: str, shape: tuple[int, int], layers: Layers, choice: ViewerChoice, digest: str
) -> go.Figure:
    """The plain X-ray on the left; on the right the same X-ray under the layers, each switched by its legend entry.

    Built as one dictionary and validated once: through make_subplots and add_trace it took three times as long
    (58 against 22 ms), on every rerun of the viewer.
    """
    name = CLASS_NAMES[layers.label]
    shown = True if choice.layers_on else "legendonly"
    on_right = {"xaxis": "x2", "yaxis": "y2", "opacity": choice.opacity, "visible": shown, "showlegend": True}
    lime = {"type": "heatmap", "colorscale": colorscale(LIME_COLORMAP), "zmin": -layers.lime_limit,
            "zmax": layers.lime_limit, "zsmooth": False, "colorbar": _colorbar(lime_colorbar_label(layers.label), 1.0),
            "hovertemplate": "change in log-odds %{z:+.2f}<extra></extra>", **on_right}
    cam = np.where(layers.grad_cam >= choice.threshold, layers.grad_cam, np.nan)
    data = [
        {"type": "image", "source": image_uri, "hoverinfo": "skip", "name": "X-ray", "xaxis": "x", "yaxis": "y"},
        {"type": "image", "source": image_uri, "hoverinfo": "skip", "name": "X-ray", "xaxis": "x2", "yaxis": "y2"},
        {**_on_grid(layers.lime_for, shape), "name": f"LIME: regions for {name}", **lime},
        {**_on_grid(layers.lime_against, shape), "name": "LIME: regions against", **lime},
        {**_on_grid(cam, shape), "type": "heatmap", "name": "Grad-CAM", "colorscale": colorscale(GRAD_CAM_COLORMAP),
         "zmin": 0.0, "zmax": 1.0, "zsmooth": "best",
         "colorbar": _colorbar(GRAD_CAM_COLORBAR_LABEL.replace("\n", "<br>"), 1.1),
         "hovertemplate": "Grad-CAM relative response %{z:.2f}<extra></extra>", **on_right},
    ]
    view, layer_switches = choice.revisions(digest)
    height = min(MAX_HEIGHT, max(MIN_HEIGHT, round(PANEL_WIDTH * shape[0] / shape[1]) + FRAME_HEIGHT))
    titles = [{"text": text, "x": x, "y": 1.0, "xref": "paper", "yref": "paper", "xanchor": "center",
               "yanchor": "bottom", "showarrow": False, "font": {"size": 16}}
              for text, x in (("X-ray", LEFT[1] / 2), (f"With the evidence for {name}", (RIGHT[0] + 1) / 2))]
    layout = {
        "xaxis": _axes(LEFT, "y", matches="x", constrain="domain"),
        "xaxis2": _axes(RIGHT, "y2", matches="x", constrain="domain"),
        "yaxis": _axes((0.0, 1.0), "x", matches="y", scaleanchor="x", autorange="reversed"),
        "yaxis2": _axes((0.0, 1.0), "x2", matches="y", scaleanchor="x", autorange="reversed"),
        "annotations": titles, "height": height, "margin": {"l": 0, "r": 0, "t": 30, "b": 0}, "dragmode": "pan",
        "legend": {"orientation": "h", "x": 1.0, "xanchor": "right", "y": 0.0, "yanchor": "top",
                   "title": {"text": "Layers (click to switch):"}, "uirevision": layer_switches},
        "uirevision": view,
    }
    return go.Figure({"data": data, "layout": layout})
