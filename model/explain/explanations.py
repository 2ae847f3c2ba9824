"""Why the model said what it said: LIME superpixels and Grad-CAM, and their pictures.

Both explanations are computed on the S x S model input, the squashed and
CLAHE-equalised square the network actually sees, so LIME's ~1000 forward
passes stay cheap. The pictures are drawn on the uploaded X-ray at its own
aspect: maps are resized from the square back to the display size.
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import keras
import numpy as np
import tensorflow as tf
from lime.lime_base import LimeBase
from matplotlib import colormaps
from matplotlib.colors import Normalize
from skimage.segmentation import felzenszwalb, mark_boundaries, quickshift, slic
from sklearn.metrics import pairwise_distances
from sklearn.utils import check_random_state

from model.dataset import CLASS_NAMES
from model.inference import BATCH_SIZE, Classifier, class_log_odds
from model.network import LAST_CONV_LAYER

DISPLAY_LONG_SIDE = 640
LIME_COLORMAP = "PiYG"
GRAD_CAM_COLORMAP = "turbo"
SUPPORT_COLOR = (0.1, 0.8, 0.2)
OPPOSE_COLOR = (0.9, 0.1, 0.1)
BOUNDARY_COLOR = (1.0, 0.85, 0.0)
DIMMED = 0.25
TINT_OPACITY = 0.45
CAM_EPSILON = 1e-8
LIME_KERNEL_WIDTH = 0.25
HOW_TO_READ = (
    "LIME hides groups of regions many times and fits a linear model of how the "
    "log-odds change: green regions raise the odds of the class shown, pink or red ones lower them (a weight "
    "of +0.7 multiplies the odds by about 2). "
    "Grad-CAM shows, coarsely, where the network's last convolutional layer responds in favour of that class. "
    "Both describe the model, not the disease: where they fall on the lungs the call is easier to trust; "
    "marks, labels or borders lighting up are a reason for doubt."
)
# From bench/faithfulness.py and bench/sanity.py (bench/results/): LIME's order beat random on every image
# and its maps decorrelate once the network's weights are noise; Grad-CAM's did neither reliably.
GRAD_CAM_CAVEAT = (
    "Read Grad-CAM as a coarse picture, not as evidence: in this project's checks, blurring the pixels it ranks "
    "first changed the model's output no more than blurring random ones on about half the images, and a network "
    "with random weights gave maps partly like it. LIME's regions passed both checks."
)


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


def jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Overlap of two sets of region numbers: shared over all (1.0 when both are empty)."""
    union = np.union1d(first, second)
    return float(len(np.intersect1d(first, second)) / len(union)) if len(union) else 1.0


@dataclass(frozen=True)
class Stability:
    """How far LIME's top regions for one class survive a change of random seed.

    overlaps[i] is the Jaccard overlap of the top `count` supporting regions
    of the explanation shown and of the rerun with seeds[i]; appearances[k]
    in how many of all the runs (the shown one included) region k is among them.
    """

    label: int
    count: int
    seeds: tuple[int, ...]
    overlaps: np.ndarray
    shown_regions: np.ndarray
    appearances: np.ndarray

    @property
    def median_overlap(self) -> float:
        return float(np.median(self.overlaps))

    @property
    def runs(self) -> int:
        return len(self.seeds) + 1

    def sentence(self) -> str:
        steady = int(np.sum(self.appearances[self.shown_regions] == self.runs))
        return (
            f"Rerun with {len(self.seeds)} other seeds, the top {self.count} regions for "
            f"{CLASS_NAMES[self.label]} overlap the ones shown by a median Jaccard of "
            f"{self.median_overlap:.2f} (1 = identical); {steady} of the {len(self.shown_regions)} shown are "
            f"among the top {self.count} in all {self.runs} runs."
        )


def stability(
    classifier: Classifier,
    model_input: np.ndarray,
    shown: LimeExplanation,
    label: int,
    count: int,
    other_seeds: int = 4,
    progress: Callable[[float], None] | None = None,
) -> Stability:
    """Rerun LIME with the next `other_seeds` seeds and compare their top regions with the shown ones.

    Segmentation does not depend on the seed, so region numbers match across runs.
    """
    seeds = tuple(shown.settings.seed + offset for offset in range(1, other_seeds + 1))
    shown_regions = shown.supporting_regions(label, count)
    appearances = np.zeros(shown.region_count, dtype=np.int64)
    appearances[shown_regions] += 1
    overlaps = []
    for done, seed in enumerate(seeds):
        def step(fraction: float, done: int = done) -> None:
            if progress is not None:
                progress((done + fraction) / len(seeds))

        rerun = explain_with_lime(classifier, model_input, replace(shown.settings, seed=seed), step)
        regions = rerun.supporting_regions(label, count)
        appearances[regions] += 1
        overlaps.append(jaccard(shown_regions, regions))
    return Stability(label, count, seeds, np.asarray(overlaps), shown_regions, appearances)


@functools.lru_cache(maxsize=4)
def _grad_cam_function(network: keras.Model) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """A traced forward-and-backward pass, built once per network."""
    both = keras.Model(network.inputs, [network.get_layer(LAST_CONV_LAYER).output, network.output])
    size = network.input_shape[1]

    @tf.function(input_signature=[tf.TensorSpec((1, size, size, 1), tf.float32), tf.TensorSpec((), tf.float32)])
    def cam(inputs: tf.Tensor, sign: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            feature_maps, logit = both(inputs, training=False)
            score = sign * logit[:, 0]
        gradients = tape.gradient(score, feature_maps)
        channel_weights = tf.reduce_mean(gradients, axis=(1, 2))
        return tf.nn.relu(tf.einsum("bhwc,bc->bhw", feature_maps, channel_weights))[0]

    return cam


def grad_cam(network: keras.Model, model_input: np.ndarray, label: int = 1) -> np.ndarray:
    """Grad-CAM of `label` at the model input's resolution, scaled to [0, 1].

    It differentiates the pre-sigmoid logit (negated for NORMAL): the
    probability's gradient vanishes when the model is very sure.
    """
    inputs = tf.constant(np.asarray(model_input, dtype=np.float32)[np.newaxis])
    sign = tf.constant(1.0 if label == 1 else -1.0)
    cam = _grad_cam_function(network)(inputs, sign).numpy()
    side = model_input.shape[0]
    cam = cv2.resize(cam, (side, side), interpolation=cv2.INTER_LINEAR)
    return cam / (cam.max() + CAM_EPSILON)


@dataclass(frozen=True)
class Agreement:
    """How much of LIME's top-region area Grad-CAM also ranks highest.

    share: the fraction of the area of LIME's `regions` strongest supporting
    regions that lies in the equally large area of highest Grad-CAM; chance:
    what random placement would give (that area over the whole image).
    """

    share: float
    chance: float
    regions: int

    def sentence(self) -> str:
        if math.isnan(self.share):
            return "Not available: LIME or Grad-CAM found nothing in favour of this class."
        return (
            f"{self.share:.0%} of the area of LIME's top {self.regions} supporting regions lies in the equally "
            f"large area that Grad-CAM ranks highest (chance level {self.chance:.0%})."
        )


def agreement(explanation: LimeExplanation, cam: np.ndarray, label: int, count: int) -> Agreement:
    lime_mask = explanation.mask(explanation.supporting_regions(label, count)).ravel()
    area = int(lime_mask.sum())
    if area == 0 or cam.max() <= 0:
        return Agreement(float("nan"), float("nan"), count)
    hottest = np.argsort(cam.ravel(), kind="stable")[-area:]
    return Agreement(float(lime_mask[hottest].mean()), area / lime_mask.size, count)


def display_shape(height: int, width: int, long_side: int = DISPLAY_LONG_SIDE) -> tuple[int, int]:
    """The uploaded image's own aspect, no larger than `long_side`."""
    scale = min(1.0, long_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


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
    """The strongest regions tinted green where they support `label` and red where they oppose it."""
    regions = explanation.strongest_regions(label, count)
    sign = np.zeros(explanation.region_count)
    sign[regions] = np.sign(explanation.weights[label][regions])
    sign_map = to_display(sign[explanation.segments], xray.shape[:2], nearest=True)
    tint = np.zeros_like(xray)
    tint[sign_map > 0] = SUPPORT_COLOR
    tint[sign_map < 0] = OPPOSE_COLOR
    tinted = np.where((sign_map != 0)[..., np.newaxis], (1 - TINT_OPACITY) * xray + TINT_OPACITY * tint, xray)
    return mark_boundaries(tinted, sign_map.astype(np.int32), color=BOUNDARY_COLOR)


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
    """The pictures of one explanation for one class, RGB in [0, 1] at the X-ray's display size."""

    label: int
    regions_shown: int
    xray: np.ndarray
    boundaries: np.ndarray
    top_regions: np.ndarray
    pros_cons: np.ndarray
    lime_heatmap: np.ndarray
    lime_norm: Normalize
    grad_cam_heatmap: np.ndarray
    grad_cam_norm: Normalize
    agreement: Agreement


def explanation_views(
    pixels: np.ndarray, explanation: LimeExplanation, cam: np.ndarray, label: int, count: int, opacity: float
) -> ExplanationViews:
    """Everything the page and the report draw, from one LIME run and one Grad-CAM of `label`."""
    xray = display_image(pixels)
    lime_overlay, lime_norm = lime_heatmap(xray, explanation, label, opacity)
    cam_overlay, cam_norm = grad_cam_heatmap(xray, cam, opacity)
    return ExplanationViews(
        label=label,
        regions_shown=count,
        xray=xray,
        boundaries=boundaries_image(xray, explanation),
        top_regions=top_regions_image(xray, explanation, label, count),
        pros_cons=pros_cons_image(xray, explanation, label, count),
        lime_heatmap=lime_overlay,
        lime_norm=lime_norm,
        grad_cam_heatmap=cam_overlay,
        grad_cam_norm=cam_norm,
        agreement=agreement(explanation, cam, label, count),
    )
