"""Which explanation is more faithful to the model: LIME, Grad-CAM, or a random ordering?

    python -m bench.faithfulness [--model DIR] [--data DIR] [--per-class 15] [--samples N] [--output NAME]

On a seeded sample of --per-class images of each class from the validation
split and from the calibration sample (the later X-rays), each method's
importance map orders the pixels for the predicted class, at the Diagnose
page's LIME defaults unless --samples says otherwise. model.explain.faithfulness follows the class's log-odds,
rescaled per image from the neutral image (0) to the original (1), through
deletion and insertion. Each image is also scored under RANDOM_DRAWS random
orderings of Grad-CAM's cell size. Prints, per set and predicted class, the
median deletion and insertion areas and how often LIME's margin (insertion
minus deletion area) beats a random ordering's and Grad-CAM's; writes them to
bench/results/faithfulness.txt (or --output). The target is LIME beating random on >= 90 %
of images.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from bench.common import (
    bench_parser,
    bench_setup,
    called_inputs,
    explanation_sample,
    report,
)
from model.dataset import CLASS_NAMES
from model.explain.faithfulness import FaithfulnessCurves, deletion_insertion, random_importance
from model.explain.grad_cam import grad_cam
from model.explain.lime import LimeSettings, explain_with_lime

SEED = 0
RANDOM_DRAWS = 3
TARGET_BEATS_RANDOM = 0.90


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--per-class", type=int, default=15, help="images of each class from each set")
    parser.add_argument("--samples", type=int, default=LimeSettings().num_samples, help="LIME's perturbed samples")
    parser.add_argument("--output", default="faithfulness.txt", help="file name under bench/results")
    args = parser.parse_args()
    setup = bench_setup(args)
    classifier = setup.classifier
    sample = explanation_sample(setup, args.per_class, SEED)
    settings = LimeSettings(num_samples=args.samples)
    rows: list[dict] = []
    started = time.perf_counter()
    inputs, calls = called_inputs(classifier, sample)
    for done, (image, model_input, label) in enumerate(zip(sample, inputs, calls), start=1):
        orderings = {
            "LIME": explain_with_lime(classifier, model_input, settings).weight_map(label),
            "Grad-CAM": grad_cam(classifier.network, model_input, label),
        }
        curves: dict[str, FaithfulnessCurves] = {
            method: deletion_insertion(classifier, model_input, importance, label)
            for method, importance in orderings.items()
        }
        random = [
            deletion_insertion(classifier, model_input, random_importance(model_input.shape[:2], SEED + draw), label)
            for draw in range(RANDOM_DRAWS)
        ]
        rows.append({"source": image.source, "call": int(label), "curves": curves, "random": random})
        print(f"  {done}/{len(sample)} images, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    lines = [
        f"model {classifier.version} ({classifier.precision}); {len(sample)} images: {args.per_class} of each class "
        f"from the validation split and from the calibration sample (seed {SEED}); LIME {settings.algorithm} "
        f"{settings.parameter}, {settings.num_samples} samples; curves of the predicted class in log-odds rescaled "
        f"per image (neutral 0, original 1); random: {RANDOM_DRAWS} orderings per image",
        "informative: the original holds at least twice the neutral image's odds of the class called; median "
        "areas are over those images. Beats: insertion minus deletion area in log-odds over |span|, all images",
        f"  {'images':<38} {'n':>3} {'inform.':>7}  {'median deletion (lower better)':>32}  "
        f"{'median insertion (higher better)':>34}  {'LIME beats random':>17} {'LIME beats Grad-CAM':>19} "
        f"{'Grad-CAM beats random':>21}",
        f"  {'':<38} {'':>3} {'':>7}  {'LIME / Grad-CAM / random':>32}  {'LIME / Grad-CAM / random':>34}",
    ]
    groups: dict[str, list[dict]] = {"all": rows}
    for source in dict.fromkeys(row["source"] for row in rows):
        groups[source] = [row for row in rows if row["source"] == source]
        for label, name in enumerate(CLASS_NAMES):
            groups[f"{source}, {name} calls"] = [row for row in groups[source] if row["call"] == label]
    for group, members in groups.items():
        if not members:
            continue
        lines.append(summary_line(group, members))
    overall = beats_random_share(rows, "LIME")
    lines.append(
        f"LIME beats a random ordering on {overall:.0%} of image-and-draw pairs (target >= {TARGET_BEATS_RANDOM:.0%}): "
        f"{'met' if overall >= TARGET_BEATS_RANDOM else 'NOT met'}."
    )
    report("\n".join(lines) + "\n", args.output)
    return 0


def beats_random_share(rows: list[dict], method: str) -> float:
    """Share of (image, random draw) pairs where `method`'s margin exceeds the random ordering's."""
    return float(np.mean([row["curves"][method].margin > random.margin for row in rows for random in row["random"]]))


def summary_line(group: str, rows: list[dict]) -> str:
    def medians(kind: str) -> str:
        """Median rescaled area of each ordering over the informative images."""
        if not informative:
            return "-"
        values = [
            np.median([getattr(row["curves"][method], kind) for row in informative]) for method in ("LIME", "Grad-CAM")
        ]
        values.append(np.median([getattr(random, kind) for row in informative for random in row["random"]]))
        return " / ".join(f"{value:.3f}" for value in values)

    informative = [row for row in rows if row["curves"]["LIME"].informative]
    lime_over_cam = np.mean([row["curves"]["LIME"].margin > row["curves"]["Grad-CAM"].margin for row in rows])
    return (
        f"  {group:<38} {len(rows):>3} {len(informative):>7}  {medians('deletion_area'):>32}  "
        f"{medians('insertion_area'):>34}  {beats_random_share(rows, 'LIME'):>17.0%} {lime_over_cam:>19.0%} "
        f"{beats_random_share(rows, 'Grad-CAM'):>21.0%}"
    )


if __name__ == "__main__":
    sys.exit(main())
