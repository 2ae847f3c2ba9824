"""Image-only checks for uploads without a DICOM header: is this a lateral view, or an adult's chest?

A JPEG or PNG says nothing about view or age, and the network answers for
either. Two linear probes tell them apart from the training X-rays: lateral
views against frontal ones (pediatric and adult, so the probe learns the view,
not the source of the files), and adult frontal chests against the pediatric
ones. They read the network's pooled features at two depths (the middle
stage keeps proportions and texture, ribs and heart size, that the last stage
has traded for pneumonia evidence) and how left-right symmetric the image is
(a frontal chest is, with two lung fields; a lateral is not). Each probe's
limit is set so that at most MAX_PEDIATRIC_FLAG_RATE of the later pediatric
X-rays of the calibration sample, and of training X-rays it was not fitted on,
are flagged.

    python -m model.trust.view_checks --data DIR --other DIR [--model DIR]

fits both from DIR (the training dataset root, with calibration/) and DIR of
other X-rays (lateral/ and adult_frontal/, never used to train the
classifier) and writes VIEW_CHECKS_FILE next to the model.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut
from sklearn.preprocessing import StandardScaler

from model.card import MODEL_FILE
from model.dataset import file_digest, list_labelled_files
from model.imaging.decode import read_image
from model.imaging.formats import image_files
from model.inference import Classifier, load_classifier
from model.network import STAGE_WIDTHS, activation_name, stage_conv_name
from model.paths import DEFAULT_ARTIFACTS_DIR
from model.trust.metadata import AGE_OUTSIDE_TRAINING, LATERAL, TRAINED_AGE_RANGE_TEXT, TrustFlag
from model.trust.ood import FEATURE_LAYER, pooled_features

VIEW_CHECKS_FILE = "view_checks.json"
MAX_PEDIATRIC_FLAG_RATE = 0.01
# The middle stage's output and the last stage's pooled features: with the
# last stage alone the leave-one-out recall was 90% (lateral) and 35% (adult)
# at the same false-alarm limit, with both 95% and 80%, with the symmetry too
# 100% and 75% (model 2026.11.30, 20 + 20 other-source X-rays).
VIEW_FEATURE_LAYERS = (activation_name(stage_conv_name(len(STAGE_WIDTHS) - 2)), FEATURE_LAYER)
# Strong regularisation: a few dozen positives against 321 features.
PROBE_C = 0.03
# Training X-rays the probes are fitted against, and others (disjoint) their limits are set on.
TRAINING_SAMPLE = 400
LIMIT_SAMPLE = 1000
SEED = 0
# Symmetry is measured on a histogram-equalised copy (exposure and contrast do
# not matter) this many pixels a side, with the mirror axis up to
# SYMMETRY_AXIS_SHIFT / 2 pixels (9%) either side of the centre: children are
# not always centred.
SYMMETRY_SIDE = 128
SYMMETRY_AXIS_SHIFT = 24
FEATURE_CHUNK = 64
# A probe tells images apart by what it was fitted on; on an image unlike all of those it still fires, so its
# reason says what the image resembles and what to check, never which view or age it is.
REASONS = {
    LATERAL: (
        "The image differs from the frontal (PA or AP) views the model was trained on the way lateral (side) "
        "views do. If it is a lateral view, the model's answer does not apply: it knows only frontal views.",
        True,
    ),
    AGE_OUTSIDE_TRAINING: (
        "The image's proportions, ribs and heart size are closer to adults' chest X-rays than to the young "
        f"children's the model was trained on. Check the patient's age: {TRAINED_AGE_RANGE_TEXT}",
        False,
    ),
}


@dataclass(frozen=True)
class Probe:
    """A standardised linear score of pooled features; above `limit` the upload gets the flag `code`."""

    code: str
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    limit: float
    summary: dict

    def scores(self, features: np.ndarray) -> np.ndarray:
        standard = (np.asarray(features, np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return standard @ np.asarray(self.coef) + self.intercept


def mirror_symmetry(pixels: np.ndarray) -> float:
    """The best correlation of the X-ray with its mirror image over mirror axes near the centre."""
    small = cv2.resize(pixels, (SYMMETRY_SIDE, SYMMETRY_SIDE), interpolation=cv2.INTER_AREA)
    grey = cv2.equalizeHist(small).astype(np.float64)
    columns = np.arange(SYMMETRY_SIDE)
    best = -1.0
    for shift in range(-SYMMETRY_AXIS_SHIFT, SYMMETRY_AXIS_SHIFT + 1):
        mirrored = SYMMETRY_SIDE - 1 + shift - columns
        left = (mirrored >= 0) & (mirrored < SYMMETRY_SIDE) & (columns < mirrored)
        first = grey[:, columns[left]] - grey[:, columns[left]].mean()
        second = grey[:, mirrored[left]] - grey[:, mirrored[left]].mean()
        norm = np.sqrt((first * first).sum() * (second * second).sum())
        if norm > 0:
            best = max(best, float((first * second).sum() / norm))
    return best


def view_features(classifier: Classifier, images: list[np.ndarray]) -> np.ndarray:
    """What the probes read of decoded X-rays (N x D): pooled network features, then the mirror symmetry."""
    inputs = np.stack([classifier.model_input(pixels) for pixels in images])
    symmetry = np.array([[mirror_symmetry(pixels)] for pixels in images])
    return np.concatenate([pooled_features(classifier, inputs, VIEW_FEATURE_LAYERS), symmetry], axis=1)


def _logistic(positive: np.ndarray, negative: np.ndarray) -> tuple[StandardScaler, LogisticRegression]:
    features = np.concatenate([positive, negative])
    labels = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    scaler = StandardScaler().fit(features)
    model = LogisticRegression(C=PROBE_C, class_weight="balanced", max_iter=5000)
    return scaler, model.fit(scaler.transform(features), labels)


def _limit(scores_of: list[np.ndarray]) -> float:
    """The highest score that flags at most MAX_PEDIATRIC_FLAG_RATE of each pediatric set."""
    return max(float(np.quantile(scores, 1.0 - MAX_PEDIATRIC_FLAG_RATE)) for scores in scores_of)


def fit_probe(code: str, positive: np.ndarray, negative: np.ndarray, pediatric: dict[str, np.ndarray]) -> Probe:
    """Fit on all positives, the limit on the `pediatric` sets (name: features), none of them fitted on.

    The summary reports the share of each pediatric set flagged and the
    leave-one-out share of positives flagged, each left-out positive judged
    by a probe and a limit fitted without it: the honest recall.
    """
    scaler, model = _logistic(positive, negative)
    probe = Probe(code, scaler.mean_.tolist(), scaler.scale_.tolist(), model.coef_[0].tolist(),
                  float(model.intercept_[0]), 0.0, {})
    limit = _limit([probe.scores(features) for features in pediatric.values()])
    held_out = []
    for keep, leave in LeaveOneOut().split(positive):
        fold_scaler, fold_model = _logistic(positive[keep], negative)
        fold_limit = _limit([fold_model.decision_function(fold_scaler.transform(f)) for f in pediatric.values()])
        held_out.append(float(fold_model.decision_function(fold_scaler.transform(positive[leave]))[0] > fold_limit))
    summary = {
        "positives": len(positive), "negatives": len(negative),
        **{f"{name}_images": len(features) for name, features in pediatric.items()},
        **{f"{name}_flagged": float(np.mean(probe.scores(features) > limit)) for name, features in pediatric.items()},
        "positives_flagged_leave_one_out": float(np.mean(held_out)),
    }
    return Probe(code, probe.mean, probe.scale, probe.coef, probe.intercept, limit, summary)


def image_flags(probes: list[Probe], features: np.ndarray) -> list[TrustFlag]:
    """The flags of one upload's view_features (1 x D)."""
    flags = []
    for probe in probes:
        if float(probe.scores(features)[0]) > probe.limit:
            reason, unreliable = REASONS[probe.code]
            flags.append(TrustFlag(probe.code, reason, unreliable))
    return flags


def save_view_checks(probes: list[Probe], artifacts_dir: Path) -> None:
    payload = {
        "model_sha256": file_digest(artifacts_dir / MODEL_FILE),
        "feature_layers": list(VIEW_FEATURE_LAYERS),
        "probes": [asdict(p) for p in probes],
    }
    (artifacts_dir / VIEW_CHECKS_FILE).write_text(json.dumps(payload) + "\n")


def load_view_checks(artifacts_dir: str | Path = DEFAULT_ARTIFACTS_DIR) -> list[Probe]:
    """The fitted probes; FileNotFoundError without them, ValueError when fitted for another model or features."""
    artifacts_dir = Path(artifacts_dir)
    payload = json.loads((artifacts_dir / VIEW_CHECKS_FILE).read_text())
    if payload.get("model_sha256") != file_digest(artifacts_dir / MODEL_FILE):
        raise ValueError(f"The view checks in {artifacts_dir} were fitted for another model file; refit them.")
    if payload.get("feature_layers") != list(VIEW_FEATURE_LAYERS):
        raise ValueError(f"The view checks in {artifacts_dir} read other features than this code; refit them.")
    return [Probe(**probe) for probe in payload["probes"]]


def features_of(classifier: Classifier, paths: list[Path]) -> np.ndarray:
    """view_features of image files, a chunk at a time so full-resolution originals are not all held at once."""
    chunks = [paths[start : start + FEATURE_CHUNK] for start in range(0, len(paths), FEATURE_CHUNK)]
    return np.concatenate([view_features(classifier, [read_image(p).pixels for p in chunk]) for chunk in chunks])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.trust.view_checks", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="training dataset root with train/ and calibration/")
    parser.add_argument("--other", required=True, type=Path, help="folder with lateral/ and adult_frontal/")
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS_DIR, help="artifacts folder")
    args = parser.parse_args(argv)
    classifier = load_classifier(args.model)
    training = list_labelled_files(args.data / "train").paths
    order = np.random.default_rng(SEED).permutation(len(training))
    pediatric = features_of(classifier, [training[i] for i in order[:TRAINING_SAMPLE]])
    limit_sets = {
        "pediatric_later": features_of(classifier, list_labelled_files(args.data / "calibration").paths),
        "pediatric_training": features_of(
            classifier, [training[i] for i in order[TRAINING_SAMPLE : TRAINING_SAMPLE + LIMIT_SAMPLE]]
        ),
    }
    lateral = features_of(classifier, image_files(args.other / "lateral"))
    adult = features_of(classifier, image_files(args.other / "adult_frontal"))
    probes = [
        fit_probe(LATERAL, lateral, np.concatenate([pediatric, adult]), limit_sets),
        fit_probe(AGE_OUTSIDE_TRAINING, adult, pediatric, limit_sets),
    ]
    save_view_checks(probes, args.model)
    for probe in probes:
        print(f"{probe.code}: {probe.summary}")
    print(f"Written to {args.model / VIEW_CHECKS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
