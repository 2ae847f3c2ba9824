"""Do the regions an explanation calls important actually drive the prediction?

Deletion: replace the most important pixels first with a neutral fill, step
by step, and follow the evidence for the explained class; a faithful map
makes it fall fast (a small area under the curve). Insertion: start from the
neutral image and put the most important pixels back first; a faithful map
makes it rise fast (a large area). The neutral fill is a heavily blurred copy
of the image: black would read as air in an X-ray and add evidence of its own.

The evidence is the calibrated log-odds of the class (logit / T, negated for
NORMAL), the scale LIME fits, rescaled per image so the neutral image reads 0
and the original 1. A probability would sit at 0.99 until most of a
confidently called film is gone, flattening every curve; the log-odds keep
moving. No fill is neutral to this model, though: a blurred image reads as
haze, which it leans to call PNEUMONIA, so when the original and the neutral
image score alike (LOW_SPAN) the rescaled curves say little. Compare a method
with the random baseline on the same image, not with a fixed number.
Any method fits as a per-pixel importance map: LIME's region weights spread
over their pixels, Grad-CAM's heatmap, or random blobs as the baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model.inference import Classifier, class_log_odds

DEFAULT_STEPS = 20
# Blur sigma as a fraction of the image side: only the coarse grey levels survive.
NEUTRAL_BLUR = 0.1
# The random baseline's grid: the last convolution's 10 x 10 cells at 160 px.
RANDOM_CELLS = 10
# Below this gap in log-odds between the original and the neutral image (a factor of 2 on the odds)
# the rescaled curves are dominated by noise.
LOW_SPAN = float(np.log(2.0))


@dataclass(frozen=True)
class FaithfulnessCurves:
    """Log-odds of the explained class after each step; fractions[i] of the pixels changed.

    deletion_log_odds starts at the original image and ends at the neutral
    one, insertion_log_odds the other way. deletion and insertion rescale them
    so that the neutral image is 0 and the original 1; areas are trapezoids of
    those over fractions in [0, 1]: lower deletion_area and higher
    insertion_area mean a more faithful explanation.
    """

    label: int
    fractions: np.ndarray
    deletion_log_odds: np.ndarray
    insertion_log_odds: np.ndarray

    @property
    def original(self) -> float:
        return float(self.deletion_log_odds[0])

    @property
    def neutral(self) -> float:
        return float(self.insertion_log_odds[0])

    @property
    def span(self) -> float:
        """How much more evidence for the class the original holds than the neutral image (log-odds)."""
        return self.original - self.neutral

    @property
    def informative(self) -> bool:
        """The original holds clearly more evidence than the neutral image, so rescaling between them means something.

        When the blurred fill itself reads as the class (haze reads as
        PNEUMONIA), the rescaled curves divide by a small or negative span.
        """
        return self.span >= LOW_SPAN

    @property
    def deletion(self) -> np.ndarray:
        return rescaled(self.deletion_log_odds, self.original, self.neutral)

    @property
    def insertion(self) -> np.ndarray:
        return rescaled(self.insertion_log_odds, self.original, self.neutral)

    @property
    def deletion_area(self) -> float:
        return float(np.trapezoid(self.deletion, self.fractions))

    @property
    def insertion_area(self) -> float:
        return float(np.trapezoid(self.insertion, self.fractions))

    @property
    def margin(self) -> float:
        """Insertion minus deletion area in log-odds over |span|: compares orderings on the same image.

        Equal to insertion_area - deletion_area when the span is positive, and
        still ranks orderings the right way round when the neutral image holds
        more evidence than the original.
        """
        insertion = np.trapezoid(self.insertion_log_odds, self.fractions)
        deletion = np.trapezoid(self.deletion_log_odds, self.fractions)
        return float((insertion - deletion) / max(abs(self.span), np.finfo(float).eps))


def neutral_image(model_input: np.ndarray) -> np.ndarray:
    sigma = NEUTRAL_BLUR * model_input.shape[0]
    return cv2.GaussianBlur(model_input[..., 0], (0, 0), sigma)[..., np.newaxis]


def random_importance(shape: tuple[int, int], seed: int, cells: int = RANDOM_CELLS) -> np.ndarray:
    """The baseline ordering: random values on a coarse grid, smoothly enlarged to the image.

    Random blobs of about the size of Grad-CAM's cells and LIME's regions:
    ranking single pixels at random would sprinkle noise over the image, which
    this model reads as disease, and the baseline would measure that instead.
    """
    grid = np.random.default_rng(seed).random((cells, cells)).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def rescaled(log_odds: np.ndarray, original: float, neutral: float) -> np.ndarray:
    """0 at the neutral image's log-odds, 1 at the original's (NaN when the two are equal)."""
    span = original - neutral
    return (log_odds - neutral) / span if span != 0 else np.full_like(log_odds, np.nan)


def deletion_insertion(
    classifier: Classifier,
    model_input: np.ndarray,
    importance: np.ndarray,
    label: int,
    steps: int = DEFAULT_STEPS,
) -> FaithfulnessCurves:
    """Deletion and insertion curves of one importance map, scored in one batched forward pass.

    model_input is the S x S x 1 network input in [0, 255]; importance is
    S x S, larger meaning more important for `label`. Ties keep raster order.
    """
    side = model_input.shape[0]
    if importance.shape != (side, side):
        raise ValueError(f"importance map is {importance.shape}, the model input is {side}x{side}")
    order = np.argsort(-importance.ravel(), kind="stable")
    counts = np.round(np.linspace(0, order.size, steps + 1)).astype(int)
    # rank[p] is the step from which pixel p counts as changed.
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    changed = (rank[np.newaxis, :] < counts[:, np.newaxis]).reshape(steps + 1, side, side, 1)
    neutral = neutral_image(model_input)
    deleted = np.where(changed, neutral, model_input)
    inserted = np.where(changed, model_input, neutral)
    evidence = class_log_odds(classifier.log_odds(np.concatenate([deleted, inserted])).astype(np.float64), label)
    return FaithfulnessCurves(label, counts / order.size, evidence[: steps + 1], evidence[steps + 1 :])
