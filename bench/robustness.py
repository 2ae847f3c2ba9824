"""How the model holds up under acquisition shifts: validation split, later val/ originals, calibration sample.

    python -m bench.robustness [--model model/artifacts] [--data ../shared/data/chest_xray] [--limit N]

Prints AUROC, sensitivity and specificity at the shipped threshold for each
shift in model.imaging.shifts.BENCHMARK_SHIFTS, so a candidate model can be compared
with the committed one on shifts the validation split does not contain.
"""
from __future__ import annotations

import sys

import numpy as np

from bench.common import bench_parser, bench_setup, report
from model.dataset import list_labelled_files
from model.evaluation.metrics import binary_metrics
from model.imaging.decode import read_image
from model.imaging.shifts import BENCHMARK_SHIFTS, probabilities_under_shifts
from model.inference import Classifier


def shift_table(classifier: Classifier, title: str, images: list[np.ndarray], labels: np.ndarray) -> list[str]:
    lines = [f"\n{title}", f"  {'shift':<26} {'AUROC':>6} {'sens':>6} {'spec':>6} {'acc':>6}"]
    probabilities = probabilities_under_shifts(classifier, images, BENCHMARK_SHIFTS)
    for name, column in zip(BENCHMARK_SHIFTS, probabilities.T):
        metrics = binary_metrics(labels, column, classifier.threshold)
        values = (metrics["auroc"], metrics["sensitivity"], metrics["specificity"], metrics["accuracy"])
        lines.append(f"  {name:<26} " + " ".join(f"{v:6.3f}" for v in values))
    return lines


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--limit", type=int, default=0, help="use at most N validation images per class")
    args = parser.parse_args()
    setup = bench_setup(args)
    classifier, scores = setup.classifier, setup.validation
    chosen = np.arange(len(scores.files))
    if args.limit:
        rng = np.random.default_rng(0)
        chosen = np.concatenate([rng.permutation(np.flatnonzero(scores.labels == k))[: args.limit] for k in (0, 1)])
    images = [read_image(setup.data_root / scores.files[i]).pixels for i in chosen]
    lines = [f"model {classifier.version}, threshold {classifier.threshold:.3f}"]
    lines += shift_table(classifier, f"validation split ({len(images)} images)", images, scores.labels[chosen])
    for folder, title in (("val", "later full-resolution val/"), ("calibration", "later calibration sample")):
        later = list_labelled_files(setup.data_root / folder)
        images = [read_image(p).pixels for p in later.paths]
        lines += shift_table(classifier, f"{title} ({len(later.paths)} images)", images, later.labels)
    report("\n".join(lines) + "\n", "robustness.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
