"""How a model does on the later X-rays of the calibration sample, and which threshold rule carries over.

    python -m bench.later_xrays [--model model/artifacts] [--data ../shared/data/chest_xray] [--target 0.95]

The validation split is carved from the training folder and separates almost
perfectly, so recipes are compared here: AUROC with its 95 % patient-bootstrap
interval, and the specificity at sensitivity >= target, both in-sample and
cross-fitted by patient. Thresholds are compared on the logit scale (a
temperature does not reorder images), each rule judged on the calibration
sample: fitted on the validation split plainly, by the earlier "lowest
threshold over simulated acquisition shifts" rule, or on the sample itself.
A last row averages the logits of the test-time views of model.imaging.shifts, which
would cost one forward pass per view.
"""
from __future__ import annotations

import sys

import numpy as np

from bench.common import CALIBRATION_FOLDER, bench_parser, bench_setup, report
from model.calibration import choose_threshold, repeated_cross_fit
from model.dataset import list_labelled_files
from model.evaluation.bootstrap import confidence_intervals, patient_of
from model.evaluation.metrics import call_metrics, with_interval
from model.imaging.decode import read_image
from model.imaging.shifts import BENCHMARK_SHIFTS, TEST_TIME_SHIFTS, Shift
from model.inference import Classifier
from model.operating_point import calls_at


def logits_under(classifier: Classifier, images: list[np.ndarray], shift: Shift) -> np.ndarray:
    return classifier.logits(np.stack([classifier.model_input(shift(pixels)) for pixels in images]))


def rates(labels: np.ndarray, logits: np.ndarray, threshold: float) -> str:
    calls = calls_at(logits, threshold)
    return (
        f"sensitivity {np.mean(calls[labels == 1]):.3f}  specificity {np.mean(~calls[labels == 0]):.3f}"
    )


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--target", type=float, default=0.95, help="sensitivity the threshold must keep")
    args = parser.parse_args()
    setup = bench_setup(args)
    classifier = setup.classifier
    files = list_labelled_files(setup.data_root / CALIBRATION_FOLDER)
    images = [read_image(path).pixels for path in files.paths]
    labels = files.labels
    groups = [patient_of(path.name) for path in files.paths]
    logits = logits_under(classifier, images, BENCHMARK_SHIFTS["none"])
    validation = setup.validation
    validation_images = [read_image(setup.data_root / file).pixels for file in validation.files]
    shifted_thresholds = [
        choose_threshold(logits_under(classifier, validation_images, shift), validation.labels, args.target)
        for shift in BENCHMARK_SHIFTS.values()
    ]
    crossed = repeated_cross_fit(logits, labels, groups, args.target)
    crossed_metrics = call_metrics(labels, crossed.probabilities, crossed.call_rates)
    crossed_metrics["intervals"] = confidence_intervals(labels, crossed.probabilities, crossed.call_rates, groups)
    in_sample = choose_threshold(logits, labels, args.target)
    auroc = call_metrics(labels, logits, logits >= in_sample)
    auroc["intervals"] = confidence_intervals(labels, 1 / (1 + np.exp(-logits)), logits >= in_sample, groups)
    views = np.mean([logits_under(classifier, images, shift) for shift in TEST_TIME_SHIFTS.values()], axis=0)
    views_metrics = call_metrics(labels, views, calls_at(views, choose_threshold(views, labels, args.target)))
    lines = [
        f"model {classifier.version}; calibration sample {len(labels)} images "
        f"({int((labels == 0).sum())} NORMAL, {int(labels.sum())} PNEUMONIA, {len(set(groups))} patients); "
        f"target sensitivity {args.target:.0%}",
        f"AUROC {with_interval(auroc, 'auroc')}",
        f"specificity at sensitivity >= {args.target:.0%}, in-sample: {auroc['specificity']:.3f} "
        f"(sensitivity {auroc['sensitivity']:.3f})",
        f"cross-fitted ({crossed.folds} folds by patient x {crossed.repeats} assignments): sensitivity "
        f"{with_interval(crossed_metrics, 'sensitivity')}  specificity {with_interval(crossed_metrics, 'specificity')}",
        "",
        "threshold rules, judged on the calibration sample (logit scale):",
        "  validation split, plain            logit "
        f"{choose_threshold(validation.logits, validation.labels, args.target):7.3f}  "
        + rates(labels, logits, choose_threshold(validation.logits, validation.labels, args.target)),
        f"  validation, lowest over shifts     logit {min(shifted_thresholds):7.3f}  "
        + rates(labels, logits, min(shifted_thresholds)),
        f"  calibration sample, in-sample      logit {in_sample:7.3f}  " + rates(labels, logits, in_sample),
        f"  calibration sample, cross-fitted   (per fold)     sensitivity {crossed_metrics['sensitivity']:.3f}  "
        f"specificity {crossed_metrics['specificity']:.3f}",
        "",
        f"test-time averaging of {len(TEST_TIME_SHIFTS)} views ({len(TEST_TIME_SHIFTS)}x the FLOPs): AUROC "
        f"{views_metrics['auroc']:.3f}, specificity at sensitivity >= {args.target:.0%} in-sample "
        f"{views_metrics['specificity']:.3f}",
    ]
    report("\n".join(lines) + "\n", "later_xrays.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
