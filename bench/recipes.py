"""Compare trained models (training recipes) on the later X-rays of the calibration sample.

    python -m bench.recipes LABEL=ARTIFACTS_DIR [LABEL=ARTIFACTS_DIR ...] [--data ../shared/data/chest_xray]

Each folder is a model written by `python -m model.train`. Rows give AUROC
with its 95 % patient-bootstrap interval, the in-sample specificity at the
best threshold keeping sensitivity >= 95 % and >= 97 %, the cross-fitted
sensitivity and specificity at those targets (each patient judged by a
threshold fitted on the other folds), and the calibration error after the
temperature is refitted there. The calibration sample chooses between recipes;
the kept-back later X-rays judge the one chosen.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench.common import CALIBRATION_FOLDER, PROJECT_ROOT, report
from model.calibration import choose_threshold, fit_temperature, repeated_cross_fit
from model.evaluate import score_folder
from model.evaluation.bootstrap import confidence_intervals, patient_of
from model.evaluation.metrics import call_metrics, reliability, with_interval
from model.inference import load_classifier
from model.operating_point import calibrated_probability, calls_at

TARGETS = (0.95, 0.97)

def recipe_row(label: str, artifacts_dir: str, data_root: Path) -> str:
    classifier = load_classifier(artifacts_dir)
    scores, _ = score_folder(classifier, data_root / CALIBRATION_FOLDER)
    labels, logits = scores.labels, scores.logits
    groups = [patient_of(file) for file in scores.files]
    calls = calls_at(logits, 0.0)
    ranking = call_metrics(labels, logits, calls)
    ranking["intervals"] = confidence_intervals(labels, calibrated_probability(logits, 1.0), calls, groups)
    cells = [f"{label:<34}", f"{with_interval(ranking, 'auroc'):<22}"]
    for target in TARGETS:
        threshold = choose_threshold(logits, labels, target)
        crossed = repeated_cross_fit(logits, labels, groups, target)
        cells.append(
            f"{np.mean(calls_at(logits[labels == 0], threshold) == 0):.3f}  "
            f"{np.mean(crossed.call_rates[labels == 1]):.3f}/{1 - np.mean(crossed.call_rates[labels == 0]):.3f}"
        )
    ece = reliability(labels, calibrated_probability(logits, fit_temperature(logits, labels)))["ece"]
    hyper = classifier.card.hyperparameters
    cells.append(f"{ece:.3f}  {hyper['epochs_run']:>2} ep, {classifier.card.training_wall_time_seconds / 60:.0f} min")
    return "  ".join(cells)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="+", help="LABEL=ARTIFACTS_DIR, one per recipe")
    parser.add_argument("--data", default=PROJECT_ROOT.parent / "shared" / "data" / "chest_xray", type=Path)
    args = parser.parse_args()
    data_root = args.data
    header = (
        f"{'recipe':<34}  {'AUROC [95% CI]':<22}  "
        + "  ".join(f"spec@{t:.0%} xfit sens/spec" for t in TARGETS)
        + "  ECE(T refit)  training"
    )
    rows = [recipe_row(*item.split("=", 1), data_root) for item in args.models]
    text = (
        f"calibration sample ({data_root / CALIBRATION_FOLDER}); spec@ = in-sample specificity at the best threshold "
        "keeping sensitivity >= target; xfit = 5 folds by patient x 10 assignments\n"
        + header + "\n" + "\n".join(rows) + "\n"
    )
    report(text, "recipes.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
