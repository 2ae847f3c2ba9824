"""Flag uploads the model should not judge: not a frontal chest X-ray like its training images.

The network answers NORMAL or PNEUMONIA for anything, a holiday photo
included. Two kinds of evidence say when not to believe it:

- the network's own view: the Mahalanobis distance of the image's
  penultimate-layer features (global average pooling) from those of the
  training X-rays, with a shrinkage (Ledoit-Wolf) covariance; the limit is a
  high percentile of the validation X-rays' distances. Copies of the image
  turned by 90/180/270 degrees or inverted are scored too: when one of them
  lies much nearer the training X-rays, the upload is probably turned or
  inverted.
- cheap checks of the pixels that need no model: a near-uniform image, one
  mostly pure white or pure black, a colourful one (X-rays are grayscale).

    python -m model.trust.ood --data DIR [--model DIR]

fits the distance on the model's training split of DIR and writes OOD_STATS_FILE
and OOD_SUMMARY_FILE next to the model.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from sklearn.covariance import LedoitWolf

from model.card import MODEL_FILE, read_card
from model.dataset import LabelledFiles, file_digest, load_model_inputs, training_splits
from model.inference import BATCH_SIZE, Classifier, load_classifier
from model.paths import DEFAULT_ARTIFACTS_DIR

FEATURE_LAYER = "pool"
OOD_STATS_FILE = "ood_stats.npz"
OOD_SUMMARY_FILE = "ood.json"
VALIDATION_PERCENTILE = 99.0

# Pixel checks. Over the 5,216 training X-rays the grey-level standard
# deviation is at least 19, at most 5% of pixels are pure white, at most 33%
# pure black, and none has a coloured pixel (as decoding measures colour:
# DecodedImage.colour_fraction); the limits leave wide margins.
MIN_GREY_STD = 8.0
MAX_WHITE_FRACTION = 0.25
MAX_BLACK_FRACTION = 0.6
MAX_COLOUR_FRACTION = 0.05
# X-rays are opaque; a file this much (partly) transparent was composited on black at decoding, so it reaches
# the network darker than the X-ray it holds (DecodedImage.transparent_fraction).
MAX_TRANSPARENT_FRACTION = 0.05

# Orientation and polarity: a turned or inverted copy this much nearer (as a
# fraction of the upload's own distance) is the likelier reading. On the 160 px
# model's validation split the nearest such copy of a real X-ray lies at 0.84x
# or more (1st percentile 0.94x); inverted and upside-down X-rays sit at 0.68x.
# The copy must also lie within the limit, like a training X-ray: an all-black
# image's inverted copy is nearer, but no X-ray either, and calling it a
# negative misled.
CORRECTION_GAIN = 0.85

# What the upload probably is when a corrected copy lies much nearer, and the correction.
CORRECTIONS: tuple[tuple[str, Callable[[np.ndarray], np.ndarray]], ...] = (
    ("lie on its side (turned by 90 degrees)", lambda pixels: np.rot90(pixels, 1)),
    ("be upside down", lambda pixels: np.rot90(pixels, 2)),
    ("lie on its side (turned by 90 degrees)", lambda pixels: np.rot90(pixels, 3)),
    ("be inverted, a negative (bones dark, air bright)", lambda pixels: 255 - pixels),
)


def mahalanobis(features: np.ndarray, mean: np.ndarray, precision: np.ndarray) -> np.ndarray:
    centred = np.asarray(features, dtype=np.float64) - mean
    return np.sqrt(np.maximum(np.einsum("nd,de,ne->n", centred, precision, centred), 0.0))


@dataclass(frozen=True)
class OodModel:
    """Where training X-rays lie in feature space and how far validation X-rays stray.

    summary holds what was fitted and how (method, counts, percentile, the
    share of validation X-rays over the limit) for the model card and pages.
    """

    mean: np.ndarray
    precision: np.ndarray
    threshold: float
    summary: dict

    def distances(self, features: np.ndarray) -> np.ndarray:
        return mahalanobis(features, self.mean, self.precision)


@dataclass(frozen=True)
class OodAssessment:
    """Whether to distrust the prediction, and why in words a clinician can act on.

    distance is the upload's feature distance and threshold the limit it was
    compared with; reasons is empty when flagged is False.
    """

    flagged: bool
    reasons: tuple[str, ...]
    distance: float
    threshold: float
    correction: str | None = None  # what the upload probably is (turned, inverted) when a corrected copy fits


@functools.lru_cache(maxsize=8)
def _feature_function(network: keras.Model, layer_names: tuple[str, ...]) -> Callable[[tf.Tensor], tf.Tensor]:
    """The forward pass up to the named layers, their maps averaged over space, traced once per network."""
    features = keras.Model(network.inputs, [network.get_layer(name).output for name in layer_names])
    size = network.input_shape[1]
    spec = tf.TensorSpec((None, size, size, 1), tf.float32)

    def forward(x: tf.Tensor) -> tf.Tensor:
        outputs = features(x, training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return tf.concat([tf.reduce_mean(o, axis=[1, 2]) if o.shape.rank == 4 else o for o in outputs], axis=1)

    return tf.function(forward, input_signature=[spec])


def pooled_features(
    classifier: Classifier, inputs: np.ndarray, layer_names: tuple[str, ...] = (FEATURE_LAYER,)
) -> np.ndarray:
    """Spatially pooled features of the named layers for a stack of model inputs (N x S x S x 1), in batches."""
    forward = _feature_function(classifier.network, tuple(layer_names))
    inputs = np.asarray(inputs, dtype=np.float32)
    return np.concatenate(
        [forward(tf.constant(inputs[start : start + BATCH_SIZE])).numpy() for start in range(0, len(inputs), BATCH_SIZE)]
    )


def fit_ood(classifier: Classifier, train_inputs: np.ndarray, val_inputs: np.ndarray) -> OodModel:
    """Fit the feature distribution on training inputs and its limit on validation inputs."""
    # float64: in float32 the inverse of the nearly singular covariance loses its small-variance directions.
    estimator = LedoitWolf().fit(pooled_features(classifier, train_inputs).astype(np.float64))
    val_features = pooled_features(classifier, val_inputs)
    val_distances = mahalanobis(val_features, estimator.location_, estimator.precision_)
    threshold = float(np.percentile(val_distances, VALIDATION_PERCENTILE))
    summary = {
        "method": "Mahalanobis distance of pooled penultimate-layer features, Ledoit-Wolf shrinkage covariance",
        "feature_layer": FEATURE_LAYER,
        "train_images": int(len(train_inputs)),
        "validation_images": int(len(val_inputs)),
        "shrinkage": round(float(estimator.shrinkage_), 6),
        "threshold_percentile": VALIDATION_PERCENTILE,
        "threshold": threshold,
        "validation_flagged_fraction": round(float(np.mean(val_distances > threshold)), 6),
    }
    return OodModel(estimator.location_, estimator.precision_, threshold, summary)


def save_ood(ood: OodModel, artifacts_dir: str | Path) -> None:
    """Write the detector beside the model file it was fitted for, tied to it by the file's digest."""
    artifacts_dir = Path(artifacts_dir)
    summary = {**ood.summary, "model_sha256": file_digest(artifacts_dir / MODEL_FILE)}
    np.savez_compressed(artifacts_dir / OOD_STATS_FILE, mean=ood.mean, precision=ood.precision)
    (artifacts_dir / OOD_SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")


def load_ood(artifacts_dir: str | Path = DEFAULT_ARTIFACTS_DIR) -> OodModel:
    """The fitted detector.

    FileNotFoundError when the model was packaged without one, ValueError when
    it was fitted for another model file (the features would not match).
    """
    artifacts_dir = Path(artifacts_dir)
    summary = json.loads((artifacts_dir / OOD_SUMMARY_FILE).read_text())
    if summary.get("model_sha256") != file_digest(artifacts_dir / MODEL_FILE):
        raise ValueError(
            f"The out-of-distribution check in {artifacts_dir} was fitted for another model file; "
            f"refit it with: python -m model.trust.ood --data DIR --model {artifacts_dir}"
        )
    with np.load(artifacts_dir / OOD_STATS_FILE) as stats:
        return OodModel(stats["mean"], stats["precision"], float(summary["threshold"]), summary)


def pixel_reasons(pixels: np.ndarray, colour: float, transparency: float = 0.0) -> list[str]:
    """What the decoded grey levels, the upload's colour and its transparency alone say is wrong.

    colour and transparency are the DecodedImage's colour_fraction and transparent_fraction.
    """
    reasons = []
    if colour > MAX_COLOUR_FRACTION:
        reasons.append(
            f"The upload is in colour ({colour:.0%} of it strongly coloured); X-rays are grayscale. "
            "It may be a photograph or a screenshot."
        )
    if transparency > MAX_TRANSPARENT_FRACTION:
        reasons.append(
            f"{transparency:.0%} of the upload is transparent or see-through; X-rays are opaque. Shown on black, it is "
            "darker than the X-ray it holds: export it again without transparency."
        )
    # Every figure from one histogram of the 8-bit grey levels: a single pass over a full-resolution image.
    share = np.bincount(pixels.ravel(), minlength=256) / pixels.size
    levels = np.arange(256)
    mean = float(share @ levels)
    if float(np.sqrt(share @ (levels - mean) ** 2)) < MIN_GREY_STD:
        reasons.append("The image is almost uniform (blank): there is no anatomy to judge.")
    white = float(share[253:].sum())
    if white > MAX_WHITE_FRACTION:
        reasons.append(f"{white:.0%} of the image is pure white: it looks over-exposed or saturated.")
    black = float(share[:3].sum())
    if black > MAX_BLACK_FRACTION:
        reasons.append(f"{black:.0%} of the image is pure black: it looks under-exposed or mostly empty.")
    return reasons


def assess(
    classifier: Classifier, ood: OodModel, pixels: np.ndarray, pixel_problems: Sequence[str] = ()
) -> OodAssessment:
    """Judge one decoded upload (grayscale pixels), given what pixel_reasons found in it.

    The caller measures the pixels once (a full-resolution pass) and uses the
    answer for the other checks too. One batched forward pass scores the
    upload with its corrected copies.
    """
    reasons = list(pixel_problems)
    copies = [pixels] + [correct(pixels) for _, correct in CORRECTIONS]
    inputs = np.stack([classifier.model_input(np.ascontiguousarray(copy)) for copy in copies])
    distances = ood.distances(pooled_features(classifier, inputs))
    distance = float(distances[0])
    if distance > ood.threshold:
        reasons.append(
            f"The image does not look like the frontal chest X-rays the model learnt from: its distance from "
            f"them is {distance:.0f}, where {ood.summary['threshold_percentile']:g}% of validation X-rays "
            f"stay below {ood.threshold:.0f}."
        )
    nearest = int(np.argmin(distances[1:]))
    correction = None
    if distances[1 + nearest] < CORRECTION_GAIN * distance and distances[1 + nearest] <= ood.threshold:
        correction = CORRECTIONS[nearest][0]
        reasons.append(
            f"The image seems to {correction}: corrected, it looks like a training X-ray. Correct it and upload it again."
        )
    return OodAssessment(bool(reasons), tuple(reasons), distance, ood.threshold, correction)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.trust.ood", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="the dataset root the model was trained on")
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS_DIR, help="artifacts folder")
    args = parser.parse_args(argv)
    card = read_card(args.model)
    if not (args.data / "train").is_dir():
        print(f"error: {args.data} has no train/ folder", file=sys.stderr)
        return 2
    fit_files, val_files, source = training_splits(
        args.data, card.hyperparameters["validation_fraction"], card.seed
    )
    classifier = load_classifier(args.model)
    print(f"Loading {len(fit_files)} training and {len(val_files)} validation images ({source})", flush=True)
    progress = keras.utils.Progbar(len(fit_files) + len(val_files), unit_name="image")
    fit_set = load_model_inputs(fit_files, classifier.image_size, lambda done, _: progress.update(done))
    val_set = load_model_inputs(
        val_files, classifier.image_size, lambda done, _: progress.update(len(fit_files) + done)
    )
    loaded_counts = LabelledFiles(fit_set.paths, fit_set.labels).class_counts()
    if loaded_counts != card.data["train"]["counts"]:
        print(
            f"error: {args.data} gives training counts {loaded_counts}, but the model was trained on "
            f"{card.data['train']['counts']}: not the dataset or split the model was trained on",
            file=sys.stderr,
        )
        return 2
    ood = fit_ood(classifier, fit_set.inputs, val_set.inputs)
    save_ood(ood, args.model)
    print(
        f"Limit {ood.threshold:.1f} ({VALIDATION_PERCENTILE:g}th percentile of validation distances); "
        f"written to {args.model / OOD_STATS_FILE} and {args.model / OOD_SUMMARY_FILE}.",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
