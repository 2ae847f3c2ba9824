"""Do the regions an explanation calls important actually drive the prediction?

Deletion: replace the most important pixels first with a neutral fill, step
by step, and follow the probability of the predicted class; a faithful map
makes it fall fast (a small area under the curve). Insertion: start from the
neutral image and put the most important pixels back first; a faithful map
makes it rise fast (a large area). The neutral fill is a heavily blurred copy
of the image: black would read as air in an X-ray and add evidence of its own.
No fill is neutral to this model, though: a blurred or flat grey image reads
as haze, which it calls PNEUMONIA, so for PNEUMONIA calls deletion falls
slowly whatever the ordering. Compare a method with the random baseline on
the same image, not with a fixed number.
Any method fits as a per-pixel importance map: LIME's region weights spread
over their pixels, Grad-CAM's heatmap, or random blobs as the baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from model.inference import Classifier

DEFAULT_STEPS = 20
# Blur sigma as a fraction of the image side: only the coarse grey levels survive.
NEUTRAL_BLUR = 0.1
# The random baseline's grid: the last convolution's 10 x 10 cells at 160 px.
RANDOM_CELLS = 10


@dataclass(frozen=True)
class FaithfulnessCurves:
    """Probability of the explained class after each step; fractions[i] of the pixels changed.

    Areas are trapezoids over fractions in [0, 1]: lower deletion_area and
    higher insertion_area mean a more faithful explanation.
    """

    label: int
    fractions: np.ndarray
    deletion: np.ndarray
    insertion: np.ndarray

    @property
    def deletion_area(self) -> float:
        return float(np.trapezoid(self.deletion, self.fractions))

    @property
    def insertion_area(self) -> float:
        return float(np.trapezoid(self.insertion, self.fractions))


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


def class_probability(probabilities: np.ndarray, label: int) -> np.ndarray:
    """The probability of `label` (0 NORMAL, 1 PNEUMONIA) from probabilities of pneumonia."""
    return probabilities if label == 1 else 1.0 - probabilities


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
    probabilities = class_probability(classifier.probabilities(np.concatenate([deleted, inserted])), label)
    return FaithfulnessCurves(
        label, counts / order.size, probabilities[: steps + 1], probabilities[steps + 1 :]
    )
