"""LIME's explanation of one call: which regions of the X-ray raise or lower the calibrated log-odds.

It runs on the S x S model input, the squashed and CLAHE-equalised square the
network actually sees, so its ~1000 forward passes stay cheap.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from lime.lime_base import LimeBase
from skimage.segmentation import felzenszwalb, quickshift, slic
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state

from model.dataset import CLASS_NAMES
from model.inference import BATCH_SIZE, Classifier, class_log_odds

LIME_KERNEL_WIDTH = 0.25


@dataclass(frozen=True)
class SegmentationParameter:
    """The one knob of a segmentation algorithm that the Diagnose page exposes."""

    name: str
    default: int
    minimum: int
    maximum: int
    step: int
    help: str


SEGMENTATION_PARAMETERS: dict[str, SegmentationParameter] = {
    "slic": SegmentationParameter(
        "regions asked for", 50, 10, 150, 5, "SLIC's target number of regions; it returns about this many."
    ),
    "quickshift": SegmentationParameter(
        "max distance", 8, 2, 30, 1, "Quickshift's cut-off distance; larger merges more into fewer regions."
    ),
    "felzenszwalb": SegmentationParameter(
        "scale", 50, 10, 500, 10, "Felzenszwalb's scale; larger prefers fewer, bigger regions."
    ),
}


@dataclass(frozen=True)
class LimeSettings:
    """Everything that changes LIME's result; the cache key of an explanation besides the image.

    The defaults come from bench/stability.py (bench/results/stability.txt):
    on 52 images, 5 seeds each, SLIC's ~40 regions gave the same top 5 regions
    (median Jaccard 1.00) and the same median R² (0.92) with 500 samples as
    with 1000, in half the time.
    """

    algorithm: str = "slic"
    parameter: int = SEGMENTATION_PARAMETERS["slic"].default
    num_samples: int = 500
    seed: int = 0


def segment(unit_image: np.ndarray, algorithm: str, parameter: int) -> np.ndarray:
    """Regions of a grayscale image in [0, 1], numbered 0..K-1 as LIME requires.

    The fixed parameters were tuned on chest X-rays at 160 px so that each
    algorithm gives a few dozen regions that follow the lungs, heart and ribs
    rather than hundreds of specks; sizes scale with the image.
    """
    side = unit_image.shape[0]
    if algorithm == "slic":
        labels = slic(unit_image, n_segments=parameter, compactness=0.1, sigma=1.0, channel_axis=None)
    elif algorithm == "quickshift":
        labels = quickshift(
            unit_image[..., np.newaxis],
            kernel_size=max(1.0, side / 40),
            max_dist=parameter,
            ratio=0.5,
            convert2lab=False,
            rng=0,
        )
    elif algorithm == "felzenszwalb":
        min_size = max(1, side * side // 256)
        labels = felzenszwalb(unit_image, scale=parameter, sigma=0.8, min_size=min_size, channel_axis=None)
    else:
        known = ", ".join(SEGMENTATION_PARAMETERS)
        raise ValueError(f"Unknown segmentation algorithm {algorithm!r}; use one of {known}.")
    return np.unique(labels, return_inverse=True)[1].reshape(labels.shape)


@dataclass
class LimeExplanation:
    """LIME's local linear model of the calibrated log-odds, for both classes.

    weights[c, k] is how much showing region k (instead of its mean grey)
    raises the log-odds of class c (0 NORMAL, 1 PNEUMONIA), logit / T for
    PNEUMONIA and its negative for NORMAL: exp(weight) is the factor on the
    odds. A linear model of a probability saturated near 0 or 1 gets weights
    of 1e-6 and fits noise; the log-odds keep moving when regions are hidden.
    score is the R^2 of that linear model on the perturbed samples.
    """

    segments: np.ndarray
    weights: np.ndarray
    intercept: np.ndarray
    score: float
    settings: LimeSettings

    @property
    def region_count(self) -> int:
        return int(self.weights.shape[1])

    def weight_map(self, label: int) -> np.ndarray:
        return self.weights[label][self.segments]

    def supporting_regions(self, label: int, count: int) -> np.ndarray:
        """Up to `count` regions that push towards `label`, strongest first."""
        order = np.argsort(-self.weights[label], kind="stable")
        return order[self.weights[label][order] > 0][:count]

    def opposing_regions(self, label: int, count: int) -> np.ndarray:
        """Up to `count` regions that push away from `label`, strongest first."""
        order = np.argsort(self.weights[label], kind="stable")
        return order[self.weights[label][order] < 0][:count]

    def strongest_regions(self, label: int, count: int) -> np.ndarray:
        """The `count` regions with the largest weights of either sign, as lime's own pros-and-cons view."""
        return np.argsort(-np.abs(self.weights[label]), kind="stable")[:count]

    def mask(self, regions: np.ndarray) -> np.ndarray:
        return np.isin(self.segments, regions)

    def support_sentence(self, label: int, count: int) -> str:
        """What the top regions add to the log-odds, and the factor on the odds a clinician can read."""
        regions = self.supporting_regions(label, count)
        name = CLASS_NAMES[label]
        if not len(regions):
            return f"LIME found no region that raises the odds of {name}."
        total = float(self.weights[label][regions].sum())
        return (
            f"Together the top {len(regions)} regions for {name} raise its log-odds by {total:+.2f}: "
            f"they multiply the odds by about {np.exp(total):.3g}."
        )


def lime_kernel(distances: np.ndarray) -> np.ndarray:
    """LimeImageExplainer's default sample weights: an exponential kernel of width 0.25 on cosine distance."""
    return np.sqrt(np.exp(-(distances**2) / LIME_KERNEL_WIDTH**2))


def region_means(image: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Every pixel replaced by the mean grey of its region: LIME's hide_color=None fill."""
    totals = np.bincount(segments.ravel(), weights=image.ravel())
    return (totals / np.bincount(segments.ravel()))[segments].astype(image.dtype)


def explain_with_lime(
    classifier: Classifier,
    model_input: np.ndarray,
    settings: LimeSettings = LimeSettings(),
    progress: Callable[[float], None] | None = None,
) -> LimeExplanation:
    """Run LIME once for both classes, so moving the threshold never needs another run.

    This is LimeImageExplainer.explain_instance with the same random draws,
    distances, kernel and lime's own LimeBase fit; only the perturbed images
    are built at once as a batch (np.where over a region mask) instead of one
    Python loop per sample and region, which took a fifth of LIME's time.
    Hidden regions are filled with their own mean grey (hide_color=None):
    black would read as air on an X-ray and push every sample towards
    "abnormal".
    """
    image = np.asarray(model_input, dtype=np.float32)[..., 0]
    segments = segment(image / 255.0, settings.algorithm, settings.parameter)
    region_count = int(segments.max()) + 1
    random_state = check_random_state(settings.seed)
    shown = random_state.randint(0, 2, settings.num_samples * region_count).reshape(settings.num_samples, -1)
    shown[0, :] = 1
    hidden_fill = region_means(image, segments)
    pneumonia_log_odds = np.empty(settings.num_samples, dtype=np.float64)
    for start in range(0, settings.num_samples, BATCH_SIZE):
        rows = shown[start : start + BATCH_SIZE].astype(bool)
        perturbed = np.where(rows[:, segments], image, hidden_fill)[..., np.newaxis]
        pneumonia_log_odds[start : start + len(rows)] = classifier.log_odds(perturbed)
        if progress is not None:
            progress(min(1.0, (start + len(rows)) / settings.num_samples))
    log_odds_by_class = np.column_stack([class_log_odds(pneumonia_log_odds, label) for label in (0, 1)])
    distances = pairwise_distances(shown, shown[:1], metric="cosine").ravel()
    base = LimeBase(lime_kernel, verbose=False, random_state=random_state)
    weights = np.zeros((2, region_count))
    intercept = np.zeros(2)
    for label in (0, 1):
        intercept[label], local_exp, score, _ = base.explain_instance_with_data(
            shown, log_odds_by_class, distances, label, region_count
        )
        for region, weight in local_exp:
            weights[label, region] = weight
    return LimeExplanation(segments, weights, intercept, float(score), settings)
