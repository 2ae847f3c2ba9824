"""How stable LIME's top regions are under a change of seed, per segmentation and sample count.

    python -m bench.stability [--per-class 13] [--seeds 5] [--count 5] [--configs slic:50:1000 slic:30:1000 ...]

For each configuration (algorithm:parameter:samples), LIME explains the
predicted class of every image of a seeded sample (--per-class images of
each class from the validation split and from the calibration sample) once
per seed; the top --count supporting regions of each pair of runs are
compared by Jaccard overlap. Prints, per configuration, the median over
images of each image's median pairwise overlap, the 10th percentile, the
median LIME R² and seconds per explanation; writes
bench/results/stability.txt. The Diagnose page's defaults (model.explain.
LimeSettings) were chosen from it: target median >= 0.85.
"""
from __future__ import annotations

import itertools
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
from model.explain.lime import LimeSettings, explain_with_lime
from model.explain.stability import jaccard

SEED = 0
TARGET = 0.85
DEFAULT_CONFIGS = ("slic:50:1000", "slic:30:1000", "slic:20:1000", "felzenszwalb:200:1000")


def parse_config(text: str) -> LimeSettings:
    algorithm, parameter, samples = text.split(":")
    return LimeSettings(algorithm, int(parameter), int(samples))


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--per-class", type=int, default=13, help="images of each class from each set")
    parser.add_argument("--seeds", type=int, default=5, help="LIME runs per image")
    parser.add_argument("--count", type=int, default=5, help="top regions compared")
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, help="algorithm:parameter:samples")
    args = parser.parse_args()
    setup = bench_setup(args)
    classifier = setup.classifier
    sample = explanation_sample(setup, args.per_class, SEED)
    inputs, calls = called_inputs(classifier, sample)
    shipped = LimeSettings()
    lines = [
        f"model {classifier.version} ({classifier.precision}); {len(sample)} images ({args.per_class} of each class "
        f"from the validation split and from the calibration sample, seed {SEED}); {args.seeds} seeds each; "
        f"Jaccard overlap of the top {args.count} supporting regions of the predicted class, every pair of runs",
        f"  {'configuration':<24} {'regions':>7} {'median overlap':>14} {'10th pct':>8} {'median R²':>9} "
        f"{'s / run':>7}",
    ]
    for text in args.configs:
        settings = parse_config(text)
        per_image, scores, regions = [], [], []
        started = time.perf_counter()
        for model_input, label in zip(inputs, calls):
            runs = [
                explain_with_lime(classifier, model_input, LimeSettings(settings.algorithm, settings.parameter,
                                                                        settings.num_samples, seed))
                for seed in range(args.seeds)
            ]
            tops = [run.supporting_regions(label, args.count) for run in runs]
            per_image.append(np.median([jaccard(a, b) for a, b in itertools.combinations(tops, 2)]))
            scores += [run.score for run in runs]
            regions.append(runs[0].region_count)
        seconds = (time.perf_counter() - started) / (len(inputs) * args.seeds)
        shipped_mark = "  <- page default" if settings == shipped else ""
        lines.append(
            f"  {text:<24} {np.median(regions):>7.0f} {np.median(per_image):>14.2f} "
            f"{np.percentile(per_image, 10):>8.2f} {np.median(scores):>9.2f} {seconds:>7.2f}{shipped_mark}"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    lines.append(f"Target: median overlap >= {TARGET} at the page default.")
    report("\n".join(lines) + "\n", "stability.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
