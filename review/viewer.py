"""The reading-room viewer's data: the X-ray as the reader chose to see it, and the explanations as layers.

The page (ui/diagnose/viewer.py) hands this to a small browser component
(ui/diagnose/viewer.js) that shows the X-ray and the explained X-ray side by
side, zoom and pan linked, and does everything a reader does to the view
without asking the server: zoom, pan, fit, each layer on or off, opacity and
Grad-CAM's threshold. The plain image is the default view: every layer
starts switched off. The X-ray goes once per drawing (not once per panel),
at up to VIEWER_LONG_SIDE (model.explain.views) pixels as a lossless PNG;
each layer goes on the network's square input grid as raw 8-bit codes
(NOTHING, or FIRST_CODE..LAST_CODE for its values from low to high), with its
colour table, and is stretched to the X-ray's own aspect as the network's
square was squashed from it.

No Streamlit here. What the server must redo, the window and invert, the
reader's ViewerChoice holds; the PDF reads it too.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

import cv2
import numpy as np
from matplotlib import colormaps

from model.classes import CLASS_NAMES
from model.explain.figures import GRAD_CAM_COLORBAR_LABEL, lime_colorbar_label
from model.explain.lime import LimeExplanation
from model.explain.views import GRAD_CAM_COLORMAP, LIME_COLORMAP
from model.imaging.window import MANUAL, GreyLevels, Preset, Window, render

DEFAULT_OPACITY = 0.45
DEFAULT_THRESHOLD = 0.2  # Grad-CAM below this relative response is not drawn
PNG_COMPRESSION = 1  # 60 ms for a 2048-pixel X-ray, lossless; level 3 took 160 ms for 1 % less
NOTHING, FIRST_CODE, LAST_CODE = 0, 1, 255  # a layer's codes: nothing drawn there, then its values low to high
COLOUR_TABLE_SIZE = 256


@dataclass
class ViewerChoice:
    """What one reader chose to see that the server must draw, kept per session (never shared: it describes a
    patient's image). The page changes it and the PDF, drawn later, reads it."""

    preset: str = ""  # a preset's name, MANUAL, or "" for the one decoding used
    center: float = 0.0
    width: float = 0.0
    invert: bool = False

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
        return np.where(explanation.mask(regions), weight_map, np.nan).astype(np.float32)

    return Layers(
        label=label,
        lime_for=only(explanation.supporting_regions(label, count)),
        lime_against=only(explanation.opposing_regions(label, count)),
        lime_limit=float(np.max(np.abs(weights))) or 1.0,
        grad_cam=np.asarray(cam, dtype=np.float32),
    )


def colour_table(name: str) -> list[list[int]]:
    """A matplotlib colour map (the one source of the page's and the PDF's colours) as 256 RGB triples."""
    colours = colormaps[name](np.linspace(0.0, 1.0, COLOUR_TABLE_SIZE))[:, :3]
    return np.rint(255 * colours).astype(int).tolist()


def layer_codes(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """`values` as 8-bit codes: NaN (nothing drawn) is NOTHING; low..high map to FIRST_CODE..LAST_CODE."""
    scaled = (np.clip(values, low, high) - low) / (high - low)
    codes = FIRST_CODE + np.rint(np.nan_to_num(scaled) * (LAST_CODE - FIRST_CODE))
    return np.where(np.isnan(values), NOTHING, codes).astype(np.uint8)


def _layer(layer_id: str, name: str, values: np.ndarray, low: float, high: float, colour_map: str, title: str,
           readout: str, ticks: list[str], *, signed: bool = False, thresholded: bool = False,
           smooth: bool = False) -> dict:
    return {
        "id": layer_id, "name": name, "codes": base64.b64encode(layer_codes(values, low, high).tobytes()).decode(),
        "low": low,
        "high": high, "lut": colour_table(colour_map), "title": title, "readout": readout, "ticks": ticks,
        "signed": signed, "thresholded": thresholded, "smooth": smooth,
    }


def viewer_data(
    image_uri: str, shape: tuple[int, int], layers: Layers, image_id: str, keys: dict[str, str], how_to_use: str
) -> dict:
    """What the browser component draws: the X-ray (plain on the left, under the layers on the right) and the
    layers, each with its colour table and colour bar in the page's units. JSON-ready; every string is shown as
    text. `image_id` keeps the reader's view and layer switches while the same image is redrawn in another window;
    `keys` are the page's keys to fit the view and switch all layers (lower case).
    """
    name = CLASS_NAMES[layers.label]
    limit = layers.lime_limit
    lime_ticks = [f"{-limit:+.2f}", "0", f"{limit:+.2f}"]
    lime_title = lime_colorbar_label(layers.label)
    lime = {"colour_map": LIME_COLORMAP, "title": lime_title, "readout": "LIME, change in log-odds",
            "ticks": lime_ticks, "signed": True}
    return {
        "id": image_id,
        "image": image_uri,
        "height": int(shape[0]),
        "width": int(shape[1]),
        "grid": int(layers.grad_cam.shape[0]),
        "codes": {"nothing": NOTHING, "first": FIRST_CODE, "last": LAST_CODE},
        "titles": ["X-ray", f"With the evidence for {name}"],
        "layers": [
            _layer("lime_for", f"LIME: regions for {name}", layers.lime_for, -limit, limit, **lime),
            _layer("lime_against", "LIME: regions against", layers.lime_against, -limit, limit, **lime),
            _layer("grad_cam", "Grad-CAM", layers.grad_cam, 0.0, 1.0, GRAD_CAM_COLORMAP,
                   GRAD_CAM_COLORBAR_LABEL.replace("\n", " "), "Grad-CAM relative response", ["0", "0.5", "1"],
                   thresholded=True, smooth=True),
        ],
        "opacity": DEFAULT_OPACITY,
        "threshold": DEFAULT_THRESHOLD,
        "keys": keys,
        "help": how_to_use,
    }
