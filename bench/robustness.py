"""How the model holds up under acquisition shifts, on the validation split and the later val/ originals.

    python bench/robustness.py [--model model/artifacts] [--data ../shared/data/chest_xray] [--limit N]

Prints AUROC, sensitivity and specificity at the shipped threshold for each
shift in model.shifts.BENCHMARK_SHIFTS, so a candidate model can be compared
with the committed one on shifts the validation split does not contain.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.artifacts import DEFAULT_ARTIFACTS_DIR, VALIDATION_SCORES_FILE, read_scores  # noqa: E402
from model.dataset import list_labelled_files  # noqa: E402
from model.inference import Classifier, load_classifier  # noqa: E402
from model.metrics import binary_metrics  # noqa: E402
from model.preprocessing import read_image  # noqa: E402
from model.shifts import BENCHMARK_SHIFTS, probabilities_under_shifts  # noqa: E402


def score_under_shifts(classifier: Classifier, images: list[np.ndarray], labels: np.ndarray) -> list[tuple]:
    rows = []
    probabilities = probabilities_under_shifts(classifier, images, BENCHMARK_SHIFTS)
    for name, column in zip(BENCHMARK_SHIFTS, probabilities.T):
        metrics = binary_metrics(labels, column, classifier.threshold)
        rows.append((name, metrics["auroc"], metrics["sensitivity"], metrics["specificity"], metrics["accuracy"]))
    return rows


def print_table(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}")
    print(f"  {'shift':<26} {'AUROC':>6} {'sens':>6} {'spec':>6} {'acc':>6}")
    for name, *values in rows:
        print(f"  {name:<26} " + " ".join(f"{v:6.3f}" for v in values))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS_DIR)
    parser.add_argument("--data", type=Path, help="dataset root; default: the one recorded in the model card")
    parser.add_argument("--limit", type=int, default=0, help="use at most N validation images per class")
    args = parser.parse_args()
    classifier = load_classifier(args.model)
    root = args.data or (Path(__file__).resolve().parent.parent / classifier.card["data"]["root"])
    scores = read_scores(args.model / VALIDATION_SCORES_FILE)
    chosen = np.arange(len(scores.files))
    if args.limit:
        rng = np.random.default_rng(0)
        chosen = np.concatenate([rng.permutation(np.flatnonzero(scores.labels == k))[: args.limit] for k in (0, 1)])
    images = [read_image(root / scores.files[i]).pixels for i in chosen]
    print(f"model {classifier.version}, threshold {classifier.threshold:.3f}")
    print_table(f"validation split ({len(images)} images)", score_under_shifts(classifier, images, scores.labels[chosen]))
    later = list_labelled_files(root / "val")
    later_images = [read_image(p).pixels for p in later.paths]
    print_table(f"later full-resolution val/ ({len(later_images)} images)",
                score_under_shifts(classifier, later_images, later.labels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
