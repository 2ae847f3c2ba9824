"""Image-only checks for uploads without a DICOM header: is this a lateral view, or an adult's chest?

A JPEG or PNG says nothing about view or age, and the network answers for
either. Two linear probes on the network's own pooled features (the ones the
out-of-distribution check uses) tell them apart from the training X-rays:
lateral views against frontal ones (pediatric and adult, so the probe learns
the view, not the source of the files), and adult frontal chests against
the pediatric ones. Each probe's limit is set on the later pediatric X-rays
of the calibration sample so that at most MAX_PEDIATRIC_FLAG_RATE of them are
flagged.

    python -m model.view_checks --data DIR --other DIR [--model DIR]

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

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneOut
from sklearn.preprocessing import StandardScaler

from model.artifacts import DEFAULT_ARTIFACTS_DIR, MODEL_FILE
from model.dataset import file_digest, image_files, list_labelled_files
from model.inference import Classifier, load_classifier
from model.metadata import AGE_OUTSIDE_TRAINING, LATERAL, TRUSTED_AGE_TEXT, TrustFlag
from model.ood import penultimate_features
from model.preprocessing import read_image

VIEW_CHECKS_FILE = "view_checks.json"
MAX_PEDIATRIC_FLAG_RATE = 0.01
# Strong regularisation: a few dozen positives against 192 features.
PROBE_C = 0.1
TRAINING_SAMPLE = 400
SEED = 0
REASONS = {
    LATERAL: (
        "The image looks like a lateral (side) view of the chest; the model only knows frontal (PA or AP) views.",
        True,
    ),
    AGE_OUTSIDE_TRAINING: (
        f"The image looks like an adult's chest X-ray (proportions, ribs, heart size); {TRUSTED_AGE_TEXT}",
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


def _logistic(positive: np.ndarray, negative: np.ndarray) -> tuple[StandardScaler, LogisticRegression]:
    features = np.concatenate([positive, negative])
    labels = np.r_[np.ones(len(positive)), np.zeros(len(negative))]
    scaler = StandardScaler().fit(features)
    model = LogisticRegression(C=PROBE_C, class_weight="balanced", max_iter=5000)
    return scaler, model.fit(scaler.transform(features), labels)


def fit_probe(code: str, positive: np.ndarray, negative: np.ndarray, pediatric_later: np.ndarray) -> Probe:
    """Fit on all positives; report the leave-one-out share of positives over the limit, the honest recall."""
    scaler, model = _logistic(positive, negative)
    probe = Probe(code, scaler.mean_.tolist(), scaler.scale_.tolist(), model.coef_[0].tolist(),
                  float(model.intercept_[0]), 0.0, {})
    limit = float(np.quantile(probe.scores(pediatric_later), 1.0 - MAX_PEDIATRIC_FLAG_RATE))
    held_out = []
    for keep, leave in LeaveOneOut().split(positive):
        fold_scaler, fold_model = _logistic(positive[keep], negative)
        fold_scores = fold_model.decision_function(fold_scaler.transform(pediatric_later))
        fold_limit = np.quantile(fold_scores, 1.0 - MAX_PEDIATRIC_FLAG_RATE)
        held_out.append(float(fold_model.decision_function(fold_scaler.transform(positive[leave]))[0] > fold_limit))
    summary = {
        "positives": len(positive), "negatives": len(negative), "pediatric_later": len(pediatric_later),
        "pediatric_later_flagged": float(np.mean(probe.scores(pediatric_later) > limit)),
        "positives_flagged_leave_one_out": float(np.mean(held_out)),
    }
    return Probe(code, probe.mean, probe.scale, probe.coef, probe.intercept, limit, summary)


def image_flags(probes: list[Probe], features: np.ndarray) -> list[TrustFlag]:
    """The flags of one upload's pooled features (1 x D)."""
    flags = []
    for probe in probes:
        if float(probe.scores(features)[0]) > probe.limit:
            reason, unreliable = REASONS[probe.code]
            flags.append(TrustFlag(probe.code, reason, unreliable))
    return flags


def save_view_checks(probes: list[Probe], artifacts_dir: Path) -> None:
    payload = {"model_sha256": file_digest(artifacts_dir / MODEL_FILE), "probes": [asdict(p) for p in probes]}
    (artifacts_dir / VIEW_CHECKS_FILE).write_text(json.dumps(payload) + "\n")


def load_view_checks(artifacts_dir: str | Path = DEFAULT_ARTIFACTS_DIR) -> list[Probe]:
    """The fitted probes; FileNotFoundError without them, ValueError when fitted for another model file."""
    artifacts_dir = Path(artifacts_dir)
    payload = json.loads((artifacts_dir / VIEW_CHECKS_FILE).read_text())
    if payload.get("model_sha256") != file_digest(artifacts_dir / MODEL_FILE):
        raise ValueError(f"The view checks in {artifacts_dir} were fitted for another model file; refit them.")
    return [Probe(**probe) for probe in payload["probes"]]


def features_of(classifier: Classifier, paths: list[Path]) -> np.ndarray:
    return penultimate_features(classifier, np.stack([classifier.model_input(read_image(p).pixels) for p in paths]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.view_checks", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="training dataset root with train/ and calibration/")
    parser.add_argument("--other", required=True, type=Path, help="folder with lateral/ and adult_frontal/")
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS_DIR, help="artifacts folder")
    args = parser.parse_args(argv)
    classifier = load_classifier(args.model)
    training = list_labelled_files(args.data / "train").paths
    sample = [training[i] for i in np.random.default_rng(SEED).permutation(len(training))[:TRAINING_SAMPLE]]
    pediatric = features_of(classifier, sample)
    later = features_of(classifier, list_labelled_files(args.data / "calibration").paths)
    lateral = features_of(classifier, image_files(args.other / "lateral"))
    adult = features_of(classifier, image_files(args.other / "adult_frontal"))
    probes = [
        fit_probe(LATERAL, lateral, np.concatenate([pediatric, adult]), later),
        fit_probe(AGE_OUTSIDE_TRAINING, adult, pediatric, later),
    ]
    save_view_checks(probes, args.model)
    for probe in probes:
        print(f"{probe.code}: {probe.summary}")
    print(f"Written to {args.model / VIEW_CHECKS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
