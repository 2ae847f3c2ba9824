"""Matplotlib figures of an explanation for the PDF report; its colour-bar labels serve the page's viewer too.

Built on matplotlib.figure.Figure rather than pyplot so concurrent Streamlit
sessions never share pyplot's global current figure.
"""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from model.dataset import CLASS_NAMES
from model.explain.views import GRAD_CAM_COLORMAP, LIME_COLORMAP

GRAD_CAM_COLORBAR_LABEL = "relative response, 0-1 (not a probability,\nnot the lesion's extent)"


def draw_image(axes: Axes, image: np.ndarray, title: str) -> None:
    axes.imshow(image)
    axes.set_title(title, fontsize=9)
    axes.set_axis_off()


def draw_heatmap(
    figure: Figure, axes: Axes, image: np.ndarray, norm: Normalize, colormap: str, colorbar_label: str, title: str
) -> None:
    """An overlay with the colorbar of the values it encodes, not of the blended pixels."""
    draw_image(axes, image, title)
    colorbar = figure.colorbar(ScalarMappable(norm, colormaps[colormap]), ax=axes, fraction=0.046, pad=0.02)
    colorbar.set_label(colorbar_label, fontsize=8)
    colorbar.ax.tick_params(labelsize=7)


def lime_colorbar_label(label: int) -> str:
    return f"change in log-odds of {CLASS_NAMES[label].lower()}"


def draw_lime_heatmap(figure: Figure, axes: Axes, overlay: np.ndarray, norm: Normalize, label: int) -> None:
    draw_heatmap(
        figure, axes, overlay, norm, LIME_COLORMAP, lime_colorbar_label(label),
        f"LIME: weight of every region for {CLASS_NAMES[label]}",
    )


def draw_grad_cam_heatmap(figure: Figure, axes: Axes, overlay: np.ndarray, norm: Normalize, label: int) -> None:
    draw_heatmap(
        figure, axes, overlay, norm, GRAD_CAM_COLORMAP, GRAD_CAM_COLORBAR_LABEL, f"Grad-CAM for {CLASS_NAMES[label]}"
    )
