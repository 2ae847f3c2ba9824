"""Re-fit the temperature and the operating threshold on a site's own labelled X-rays.

    python -m model.calibrate --data DIR [--model DIR] [--out DIR] [--target-sensitivity 0.95]

DIR holds NORMAL/ and PNEUMONIA/: 100-200 of the site's own labelled X-rays.
The network's weights are not touched. X-ray machines, exposure habits and
populations move the scores of a trained network, so deployed chest X-ray
models are re-tuned this way per site and per model version. The command
prints and records the metrics before and after with 95 % bootstrap
intervals (resampling patients), and a cross-fitted estimate in which every
image is judged by a threshold fitted on the other folds, so the reported
specificity is not in-sample. It writes a new model version to --out (by
default the model folder itself).
"""
from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from model.calibration import (
    choose_threshold,
    file_list_digest,
    fit_temperature,
    operating_point_record,
    repeated_cross_fit,
)
from model.card import (
    VALIDATION_SCORES_FILE,
    ModelCard,
    Scores,
    read_card,
    read_scores,
    write_card,
    write_scores,
)
from model.classes import counts_phrase
from model.evaluate import (
    EVALUATIONS_DIR,
    artifacts_dir_of,
    default_output,
    labelled_data_parser,
    labelled_folder_or_none,
    score_folder,
    scores_report,
)
from model.evaluation.bootstrap import confidence_intervals, patient_of
from model.evaluation.metrics import binary_metrics, call_metrics, reliability, with_interval
from model.inference import load_classifier
from model.operating_point import OperatingPoint, calibrated_probability

BEFORE_SUFFIX = " (before calibration)"
SUMMARY_METRICS = ("auroc", "accuracy", "sensitivity", "specificity", "ece")


@dataclass
class Calibration:
    """A refitted operating point and how the set scores before, after and cross-fitted."""

    point: OperatingPoint
    before: dict
    after: dict
    cross_fitted: dict


def calibrate_scores(scores: Scores, previous: OperatingPoint, target_sensitivity: float) -> Calibration:
    """Fit temperature and threshold on these scores and judge the fit three ways, with 95 % intervals."""
    groups = [patient_of(file) for file in scores.files]
    labels, logits = scores.labels, scores.logits

    def judged(probabilities, predictions, metrics: dict) -> dict:
        return {**metrics, "intervals": confidence_intervals(labels, probabilities, predictions, groups)}

    before_probabilities = previous.probabilities(logits)
    before = binary_metrics(labels, before_probabilities, previous.threshold)
    temperature = fit_temperature(logits, labels)
    probabilities = calibrated_probability(logits, temperature)
    point = OperatingPoint(temperature, choose_threshold(probabilities, labels, target_sensitivity), target_sensitivity)
    after = binary_metrics(labels, probabilities, point.threshold)
    crossed = repeated_cross_fit(logits, labels, groups, target_sensitivity)
    cross_metrics = call_metrics(labels, crossed.probabilities, crossed.call_rates)
    return Calibration(
        point=point,
        before=judged(before_probabilities, previous.calls(before_probabilities), before),
        after=judged(probabilities, point.calls(probabilities), after),
        cross_fitted={
            **judged(crossed.probabilities, crossed.call_rates, cross_metrics),
            "folds": crossed.folds,
            "repeats": crossed.repeats,
            "fold_thresholds": [round(t, 6) for t in crossed.thresholds],
        },
    )


def new_version(version: str, files_sha256: str) -> str:
    """The network's own version with the calibration data's fingerprint: the same weights, a new operating point."""
    return f"{version.split('+')[0]}+cal.{files_sha256[:8]}"


def calibrated_card(
    card: ModelCard, result: Calibration, name: str, folder: str, scores: Scores, when: datetime
) -> ModelCard:
    """The card of the new model version: the new operating point, where it came from, and the one it replaces."""
    previous = {
        "version": card.version,
        "threshold": card.point.threshold,
        "temperature": card.point.temperature,
        "target_sensitivity": card.point.target_sensitivity,
        "fitted_on": card.provenance.fitted_on.name if card.provenance else "validation",
    }
    record = operating_point_record(name, folder, scores.labels, scores.files, when, previous=previous)
    return replace(
        card,
        version=new_version(card.version, file_list_digest(scores.files)),
        point=result.point,
        provenance=replace(
            record, assessment={"before": result.before, "after": result.after, "cross_fitted": result.cross_fitted}
        ),
        calibration={
            "method": "temperature scaling",
            "fitted_on": name,
            "ece_before": reliability(scores.labels, calibrated_probability(scores.logits, 1.0))["ece"],
            "ece_after": result.after["ece"],
        },
    )


def rescored(scores: Scores, temperature: float) -> Scores:
    return Scores(scores.files, scores.labels, scores.logits, calibrated_probability(scores.logits, temperature))


def reexpress_stored_scores(artifacts: Path, card: ModelCard, previous_version: str) -> ModelCard:
    """Stored scores of the same network, re-expressed at the new operating point from their logits.

    Returns the card with the validation metrics at the new point.
    """
    validation = rescored(read_scores(artifacts / VALIDATION_SCORES_FILE), card.point.temperature)
    write_scores(validation, artifacts / VALIDATION_SCORES_FILE)
    for path in sorted((artifacts / EVALUATIONS_DIR).glob("*.json")):
        report = json.loads(path.read_text())
        if report.get("model_version") != previous_version or report.get("operating_point") == "previous":
            continue
        scores = rescored(Scores.from_rows(report["scores"]), card.point.temperature)
        updated = scores_report(
            report["name"], report["data"], card.version, scores, card.point.threshold, report.get("skipped", [])
        )
        path.write_text(json.dumps(updated, indent=1) + "\n")
    return replace(
        card, validation_metrics=binary_metrics(validation.labels, validation.probabilities, card.point.threshold)
    )


def write_version(model_dir: Path, out: Path, card: ModelCard, previous_card: ModelCard) -> ModelCard:
    """The card and re-expressed scores in `out`, with the network and its other files copied there if needed."""
    out.mkdir(parents=True, exist_ok=True)
    if out.resolve() != model_dir.resolve():
        for file in previous_card.files.values():
            shutil.copy2(model_dir / file, out / file)
        if (model_dir / EVALUATIONS_DIR).is_dir():
            shutil.copytree(model_dir / EVALUATIONS_DIR, out / EVALUATIONS_DIR, dirs_exist_ok=True)
    card = reexpress_stored_scores(out, card, previous_card.version)
    write_card(card, out)
    return card


def summary_table(result: Calibration, previous: OperatingPoint) -> str:
    rows = [
        (f"before (threshold {previous.threshold:.3f}, T {previous.temperature:.3f})", result.before),
        (f"after, in-sample (threshold {result.point.threshold:.3f}, T {result.point.temperature:.3f})", result.after),
        (f"cross-fitted, {result.cross_fitted['folds']} folds by patient x {result.cross_fitted['repeats']} "
         "fold assignments", result.cross_fitted),
    ]
    lines = ["  " + "  ".join(f"{name}" for name in SUMMARY_METRICS) + "  (95 % intervals in brackets)"]
    for title, metrics in rows:
        lines.append(f"{title}:")
        lines.append("    " + "  ".join(f"{name} {with_interval(metrics, name)}" for name in SUMMARY_METRICS))
    return "\n".join(lines)


def calibrate_model(
    model_dir: Path, folder: Path, out: Path, target_sensitivity: float
) -> tuple[ModelCard, Calibration, list[dict]]:
    """Refit the operating point of the model in `model_dir` on a labelled folder and write the new version to `out`.

    Returns the new card, the assessment, and the files that could not be read.
    """
    classifier = load_classifier(model_dir)
    previous_card = classifier.card
    scores, skipped = score_folder(classifier, folder)
    result = calibrate_scores(scores, previous_card.point, target_sensitivity)
    name = folder.name
    card = calibrated_card(previous_card, result, name, str(folder), scores, datetime.now(UTC))
    card = write_version(model_dir, out, card, previous_card)
    before = scores_report(name + BEFORE_SUFFIX, str(folder), previous_card.version,
                           rescored(scores, previous_card.point.temperature), previous_card.point.threshold, skipped)
    before["operating_point"] = "previous"
    after = scores_report(name, str(folder), card.version, rescored(scores, result.point.temperature),
                          result.point.threshold, skipped)
    for report in (before, after):
        path = default_output(out, report)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1) + "\n")
    return card, result, skipped


def print_calibration(card: ModelCard, result: Calibration, previous: ModelCard, folder: Path, out: Path) -> None:
    fitted_on = card.provenance.fitted_on
    print(f"Calibrated on {folder}: {counts_phrase(fitted_on.counts, ' and ')} X-rays of {fitted_on.patients} "
          f"patients; target sensitivity {result.point.target_sensitivity:.0%}.")
    print(summary_table(result, previous.point))
    print(f"Model version {card.version} (was {previous.version}) written to {out}.")


def main(argv: list[str] | None = None) -> int:
    parser = labelled_data_parser("python -m model.calibrate", __doc__)
    parser.add_argument("--out", type=Path, help="where the new model version goes (default: the model folder)")
    parser.add_argument("--target-sensitivity", type=float, default=0.95, help="the sensitivity to keep")
    args = parser.parse_args(argv)
    if not 0.0 < args.target_sensitivity <= 1.0:
        print("error: --target-sensitivity must be in (0, 1]", file=sys.stderr)
        return 2
    folder = labelled_folder_or_none(args.data)
    if folder is None:
        return 2
    model_dir = artifacts_dir_of(args.model)
    out = args.out or model_dir
    previous = read_card(model_dir)
    try:
        card, result, skipped = calibrate_model(model_dir, folder, out, args.target_sensitivity)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for item in skipped:
        print(f"skipped {item['file']}: {item['reason']}")
    print_calibration(card, result, previous, folder, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
