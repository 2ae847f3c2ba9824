"""Sanity check of the explanations (Adebayo et al., "Sanity Checks for Saliency Maps", NeurIPS 2018).

    python -m bench.sanity [--model model/artifacts] [--data ../shared/data/chest_xray] [--per-class 5]

Cascading randomisation: the trained network's layers are re-initialised
from the top (the logit) down, one stage at a time, with the initialisers a
freshly built network of the same architecture gets. At each step LIME and
Grad-CAM explain the class the trained network called, on a seeded sample
(--per-class images of each class from the validation split and from the
calibration sample), and their maps are compared with the trained network's
by Spearman rank correlation over the pixels. A method whose maps barely
change when the weights are noise shows the image, not the model. Prints,
per step, the median signed correlation and the median of its magnitude:
with a single logit, re-initialising only the last layer often just flips
the sign of a map (rho near -1), which is no change of where it looks, so the
target is judged on |rho|: median <= 0.3. Writes bench/results/sanity.txt.
"""
from __future__ import annotations

import sys
import time

import keras
import numpy as np
from scipy.stats import spearmanr

from bench.common import (
    bench_parser,
    bench_setup,
    called_inputs,
    explanation_sample,
    report,
)
from model.explain.grad_cam import grad_cam
from model.explain.lime import LimeSettings, explain_with_lime
from model.inference import Classifier
from model.network import STAGE_WIDTHS, build_network, stage_conv_name

SEED = 0
TARGET = 0.3


def cascade() -> list[tuple[str, list[str]]]:
    """Stages of layers to re-initialise, top first: the logit, each convolution stage, the stem."""
    stages = [("logit", ["logit"])]
    for stage in reversed(range(len(STAGE_WIDTHS))):
        convolutions = [stage_conv_name(stage), f"stage{stage}_a"]
        stages.append((f"stage {stage}", [name for conv in convolutions for name in (conv, f"{conv}_bn")]))
    stages.append(("stem", ["stem", "stem_bn"]))
    return stages


def rank_correlation(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rho over pixels; a constant map carries no ranking and counts as 0."""
    if np.ptp(first) == 0 or np.ptp(second) == 0:
        return 0.0
    return float(spearmanr(first.ravel(), second.ravel()).statistic)


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--per-class", type=int, default=5, help="images of each class from each set")
    args = parser.parse_args()
    setup = bench_setup(args)
    trained = setup.classifier
    sample = explanation_sample(setup, args.per_class, SEED)
    inputs, calls = called_inputs(trained, sample)
    settings = LimeSettings()

    def maps(classifier: Classifier) -> list[tuple[np.ndarray, np.ndarray]]:
        return [
            (explain_with_lime(classifier, x, settings).weight_map(label), grad_cam(classifier.network, x, label))
            for x, label in zip(inputs, calls)
        ]

    reference = maps(trained)
    keras.utils.set_random_seed(SEED)
    fresh = build_network(trained.image_size)
    randomised = keras.models.clone_model(trained.network)
    randomised.set_weights(trained.network.get_weights())
    lines = [
        f"model {trained.version} ({trained.precision}); {len(sample)} images ({args.per_class} of each class from "
        f"the validation split and from the calibration sample, seed {SEED}); LIME {settings.algorithm} "
        f"{settings.parameter}, {settings.num_samples} samples, seed {settings.seed}; maps of the class the trained "
        "network called, compared with the trained network's by Spearman rank correlation over pixels",
        "  median Spearman rho over images, signed and |rho|; a constant map counts as rho 0",
        f"  {'re-initialised down to':<24} {'LIME rho':>9} {'LIME |rho|':>10} {'Grad-CAM rho':>12} "
        f"{'Grad-CAM |rho|':>14} {'constant Grad-CAM':>17}",
    ]
    started = time.perf_counter()
    for stage, layer_names in cascade():
        for name in layer_names:
            randomised.get_layer(name).set_weights(fresh.get_layer(name).get_weights())
        now = maps(Classifier(randomised, trained.card, trained.precision))
        lime_rho = [rank_correlation(a[0], b[0]) for a, b in zip(reference, now)]
        cam_rho = [rank_correlation(a[1], b[1]) for a, b in zip(reference, now)]
        constant = sum(np.ptp(b[1]) == 0 for b in now)
        lines.append(
            f"  {stage:<24} {np.median(lime_rho):>9.2f} {np.median(np.abs(lime_rho)):>10.2f} "
            f"{np.median(cam_rho):>12.2f} {np.median(np.abs(cam_rho)):>14.2f} {constant:>17}"
        )
        print(f"{lines[-1]}  ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    lines.append(f"Target: median |rho| <= {TARGET}: maps of a network with noise for weights must not resemble the "
                 "trained network's.")
    report("\n".join(lines) + "\n", "sanity.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
