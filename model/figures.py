"""Matplotlib figures of an explanation, shared by the Diagnose page and the PDF report.

Built on matplotlib.figure.Figure rather than pyplot so concurrent Streamlit
sessions never share pyplot's global current figure.
"""
from __future__ import annotations

import io

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from model.dataset import CLASS_NAMES
from model.explain import GRAD_CAM_COLORMAP, LIME_COLORMAP, ExplanationViews

GRAD_CAM_COLORBAR_LABEL = "relevance (scaled to 0-1)"


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


def draw_lime_heatmap(figure: Figure, axes: Axes, views: ExplanationViews) -> None:
    draw_heatmap(
        figure, axes, views.lime_heatmap, views.lime_norm, LIME_COLORMAP,
        f"change in log-odds of {CLASS_NAMES[views.label].lower()}",
        f"LIME: weight of every region for {CLASS_NAMES[views.label]}",
    )


def draw_grad_cam_heatmap(figure: Figure, axes: Axes, views: ExplanationViews) -> None:
    draw_heatmap(
        figure, axes, views.grad_cam_heatmap, views.grad_cam_norm, GRAD_CAM_COLORMAP, GRAD_CAM_COLORBAR_LABEL,
        f"Grad-CAM for {CLASS_NAMES[views.label]}",
    )


def _column_figure(views: ExplanationViews) -> tuple[Figure, Axes]:
    """A figure sized for one page column at the X-ray's own aspect, room left for a colorbar."""
    height, width = views.xray.shape[:2]
    figure = Figure(figsize=(5.0, 5.0 * height / width * 0.85 + 0.4), layout="constrained")
    return figure, figure.add_subplot()


def lime_heatmap_figure(views: ExplanationViews) -> Figure:
    figure, axes = _column_figure(views)
    draw_lime_heatmap(figure, axes, views)
    return figure


def grad_cam_heatmap_figure(views: ExplanationViews) -> Figure:
    figure, axes = _column_figure(views)
    draw_grad_cam_heatmap(figure, axes, views)
    return figure


def to_png(figure: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()
