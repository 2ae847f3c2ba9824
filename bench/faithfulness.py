"""Which explanation is more faithful to the model: LIME, Grad-CAM, or a random ordering?

    python bench/faithfulness.py [--model model/artifacts] [--data ../shared/data/chest_xray] [--per-class 30]

On a seeded sample of the model's validation split (--per-class images of
each class), each method's importance map orders the pixels for the
predicted class; model.faithfulness scores the deletion and insertion curves.
The random ordering ranks random blobs of Grad-CAM's cell size. Prints the
mean areas with their standard errors, for all images and per predicted
class, and how often each method beats the random ordering on the same
image; writes them to bench/results/faithfulness.txt. Lower deletion and
higher insertion areas are better.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from common import bench_parser, bench_setup, report  # first: it puts the project root on sys.path

from model.dataset import CLASS_NAMES
from model.explain import LimeSettings, explain_with_lime, grad_cam
from model.faithfulness import deletion_insertion, random_importance
from model.preprocessing import read_image

METHODS = ("LIME", "Grad-CAM", "random")
SEED = 0


def mean_and_error(values: np.ndarray) -> str:
    if len(values) < 2:
        return f"{values.mean():.3f}"
    return f"{values.mean():.3f} ± {values.std(ddof=1) / np.sqrt(len(values)):.3f}"


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--per-class", type=int, default=30, help="validation images of each class")
    args = parser.parse_args()
    setup = bench_setup(args)
    classifier, scores = setup.classifier, setup.validation
    rng = np.random.default_rng(SEED)
    chosen = np.sort(np.concatenate(
        [rng.permutation(np.flatnonzero(scores.labels == k))[: args.per_class] for k in (0, 1)]
    ))
    settings = LimeSettings()
    areas = {method: {"deletion": [], "insertion": []} for method in METHODS}
    calls = []
    started = time.perf_counter()
    for done, index in enumerate(chosen, start=1):
        model_input = classifier.model_input(read_image(setup.data_root / scores.files[index]).pixels)
        label = int(classifier.probabilities(model_input[np.newaxis])[0] >= classifier.threshold)
        calls.append(label)
        maps = {
            "LIME": explain_with_lime(classifier, model_input, settings).weight_map(label),
            "Grad-CAM": grad_cam(classifier.network, model_input, label),
            "random": random_importance(model_input.shape[:2], SEED + int(index)),
        }
        for method, importance in maps.items():
            curves = deletion_insertion(classifier, model_input, importance, label)
            areas[method]["deletion"].append(curves.deletion_area)
            areas[method]["insertion"].append(curves.insertion_area)
        print(f"  {done}/{len(chosen)} images, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    results = {method: {kind: np.asarray(values) for kind, values in kinds.items()} for method, kinds in areas.items()}
    calls = np.asarray(calls)
    groups = {"all": np.ones(len(calls), bool), **{f"{name} calls": calls == k for k, name in enumerate(CLASS_NAMES)}}
    lines = [
        f"model {classifier.version}; {len(chosen)} validation-split images ({args.per_class} per class, seed {SEED}); "
        f"LIME {settings.algorithm} {settings.parameter}, {settings.num_samples} samples; curves of the predicted class",
        f"  {'method':<9} {'images':<16} {'n':>3} {'deletion (lower better)':>24} {'insertion (higher better)':>26} "
        f"{'beats random (del / ins)':>25}",
    ]
    for method in METHODS:
        for group, chosen_group in groups.items():
            if not chosen_group.any():
                continue
            deletion, insertion = results[method]["deletion"][chosen_group], results[method]["insertion"][chosen_group]
            beats = "-" if method == "random" else (
                f"{np.mean(deletion < results['random']['deletion'][chosen_group]):.0%} / "
                f"{np.mean(insertion > results['random']['insertion'][chosen_group]):.0%}"
            )
            lines.append(
                f"  {method:<9} {group:<16} {chosen_group.sum():>3} {mean_and_error(deletion):>24} "
                f"{mean_and_error(insertion):>26} {beats:>25}"
            )
    margin = {m: results[m]["insertion"].mean() - results[m]["deletion"].mean() for m in ("LIME", "Grad-CAM")}
    best = max(margin, key=margin.get)
    lines.append(
        f"More faithful over all images (insertion minus deletion area): {best} "
        f"({margin[best]:.3f} against {min(margin.values()):.3f})."
    )
    report("\n".join(lines) + "\n", "faithfulness.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
