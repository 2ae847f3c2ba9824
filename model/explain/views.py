"""The pictures of an explanation, drawn on the uploaded X-ray at its own aspect, and how to read them.

LIME and Grad-CAM work on the square model input; their maps are resized from
the square back to the display size.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from skimage.segmentation import mark_boundaries

from model.explain.agreement import Agreement, agreement
from model.explain.lime import LimeExplanation

DISPLAY_LONG_SIDE = 640  # the explanation's pictures, page and PDF
VIEWER_LONG_SIDE = 2048  # the X-ray in the reading-room viewer (review/viewer.py), sharp when zoomed
DEFAULT_REGIONS_SHOWN = 5  # LIME regions for and against that the page, the PDF and the PACS result show
# Colours every reader can tell apart: a diverging map without a red-green pair for LIME's signed
# weights (purple for the class, orange against, white for no effect), and a perceptually uniform
# sequential map for Grad-CAM, whose lightness rises with the response (a rainbow's does not).
LIME_COLORMAP = "PuOr"
GRAD_CAM_COLORMAP = "cividis"
SUPPORT_COLOR, OPPOSE_COLOR = (tuple(float(c) for c in colormaps[LIME_COLORMAP](end)[:3]) for end in (0.9, 0.1))
SUPPORT_NAME, OPPOSE_NAME = "purple", "orange"
BOUNDARY_COLOR = (1.0, 0.85, 0.0)
DIMMED = 0.25
TINT_OPACITY = 0.45
HOW_TO_READ = (
    "LIME hides groups of regions many times and fits a linear model of how the log-odds change: "
    f"{SUPPORT_NAME} regions raise the odds of the class shown, {OPPOSE_NAME} ones lower them (a weight of +0.7 "
    "multiplies the odds by about 2). "
    "Grad-CAM shows, coarsely, where the network's last convolutional layer responds in favour of that class. "
    "Both describe the model, not the disease: where they fall on the lungs the call is easier to trust; "
    "marks, labels or borders lighting up are a reason for doubt."
)


def display_shape(height: int, width: int, long_side: int = DISPLAY_LONG_SIDE) -> tuple[int, int]:
    """The uploaded image's own aspect, no larger than `long_side`."""
    scale = min(1.0, long_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def viewer_shape(height: int, width: int) -> tuple[int, int]:
    """The size the viewer draws an X-ray at: its own aspect, at most VIEWER_LONG_SIDE on the long side."""
    return display_shape(height, width, VIEWER_LONG_SIDE)


def to_display(values: np.ndarray, shape: tuple[int, int], nearest: bool = False) -> np.ndarray:
    """Stretch a square map of the model input back to the X-ray's own shape."""
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    resized = cv2.resize(values.astype(np.float32), (shape[1], shape[0]), interpolation=interpolation)
    return resized.astype(values.dtype) if nearest else resized


def display_image(pixels: np.ndarray, long_side: int = DISPLAY_LONG_SIDE) -> np.ndarray:
    """The uploaded X-ray as RGB in [0, 1], at its own aspect."""
    height, width = display_shape(*pixels.shape, long_side)
    gray = cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return np.repeat(gray[..., np.newaxis], 3, axis=2)


def boundaries_image(xray: np.ndarray, explanation: LimeExplanation) -> np.ndarray:
    segments = to_display(explanation.segments, xray.shape[:2], nearest=True)
    return mark_boundaries(xray, segments, color=BOUNDARY_COLOR)


def top_regions_image(xray: np.ndarray, explanation: LimeExplanation, label: int, count: int) -> np.ndarray:
    """The regions that most support `label` at full brightness, the rest dimmed."""
    mask = to_display(explanation.mask(explanation.supporting_regions(label, count)), xray.shape[:2], nearest=True)
    shown = np.where(mask[..., np.newaxis], xray, xray * DIMMED)
    return mark_boundaries(shown, mask.astype(np.int32), color=BOUNDARY_COLOR)


def pros_cons_image(xray: np.ndarray, explanation: LimeExplanation, label: int, count: int) -> np.ndarray:
    """The strongest regions tinted where they support `label` (SUPPORT_COLOR) and where they oppose it."""
    regions = explanation.strongest_regions(label, count)
    sign = np.zeros(explanation.region_count)
    sign[regions] = np.sign(explanation.weights[label][regions])
    sign_map = to_display(sign[explanation.segments], xray.shape[:2], nearest=True)
    tint = np.zeros_like(xray)
    tint[sign_map > 0] = SUPPORT_COLOR
    tint[sign_map < 0] = OPPOSE_COLOR
    tinted = np.where((sign_map != 0)[..., np.newaxis], (1 - TINT_OPACITY) * xray + TINT_OPACITY * tint, xray)
    return mark_boundaries(tinted, sign_map.astype(np.int32), color=BOUNDARY_COLOR)


def pros_cons_caption(count: int, class_name: str) -> str:
    return f"Strongest {count} regions: {SUPPORT_NAME} for {class_name}, {OPPOSE_NAME} against"


def symmetric_norm(values: np.ndarray) -> Normalize:
    """A colour scale centred on zero, so white means 'no effect' whatever the sign of the extremes."""
    limit = float(np.max(np.abs(values))) or 1.0
    return Normalize(-limit, limit)


def heatmap_overlay(
    xray: np.ndarray, values: np.ndarray, colormap: str, norm: Normalize, opacity: float
) -> np.ndarray:
    """Alpha-blend a coloured map (already at display size) onto the X-ray."""
    colors = colormaps[colormap](norm(values))[..., :3]
    return np.clip((1 - opacity) * xray + opacity * colors, 0.0, 1.0)


def lime_heatmap(
    xray: np.ndarray, explanation: LimeExplanation, label: int, opacity: float
) -> tuple[np.ndarray, Normalize]:
    """Every region's weight for `label`, and the symmetric scale it was drawn with."""
    weights = to_display(explanation.weight_map(label), xray.shape[:2], nearest=True)
    norm = symmetric_norm(explanation.weights[label])
    return heatmap_overlay(xray, weights, LIME_COLORMAP, norm, opacity), norm


def grad_cam_heatmap(xray: np.ndarray, cam: np.ndarray, opacity: float) -> tuple[np.ndarray, Normalize]:
    norm = Normalize(0.0, 1.0)
    return heatmap_overlay(xray, to_display(cam, xray.shape[:2]), GRAD_CAM_COLORMAP, norm, opacity), norm


@dataclass
class ExplanationViews:
    """The pictures of one explanation for one class, RGB in [0, 1] at the X-ray's display size.

    The two heat maps only the PDF draws are made when it asks: on every rerun of the page they took a third of
    a replica's time under load (py-spy, 32 sessions).
    """

    label: int
    regions_shown: int
    xray: np.ndarray
    boundaries: np.ndarray
    top_regions: np.ndarray
    pros_cons: np.ndarray
    agreement: Agreement
    explanation: LimeExplanation
    cam: np.ndarray
    opacity: float

    @cached_property
    def _lime(self) -> tuple[np.ndarray, Normalize]:
        return lime_heatmap(self.xray, self.explanation, self.label, self.opacity)

    @cached_property
    def _grad_cam(self) -> tuple[np.ndarray, Normalize]:
        return grad_cam_heatmap(self.xray, self.cam, self.opacity)

    @property
    def lime_heatmap(self) -> np.ndarray:
        return self._lime[0]

    @property
    def lime_norm(self) -> Normalize:
        return self._lime[1]

    @property
    def grad_cam_heatmap(self) -> np.ndarray:
        return self._grad_cam[0]

    @property
    def grad_cam_norm(self) -> Normalize:
        return self._grad_cam[1]


def explanation_views(
    pixels: np.ndarray, explanation: LimeExplanation, cam: np.ndarray, label: int, count: int, opacity: float
) -> ExplanationViews:
    """Everything the page and the report draw, from one LIME run and one Grad-CAM of `label`."""
    xray = display_image(pixels)
    return ExplanationViews(
        label=label,
        regions_shown=count,
        xray=xray,
        boundaries=boundaries_image(xray, explanation),
        top_regions=top_regions_image(xray, explanation, label, count),
        pros_cons=pros_cons_image(xray, explanation, label, count),
        agreement=agreement(explanation, cam, label, count),
        explanation=explanation,
        cam=cam,
        opacity=opacity,
    )
