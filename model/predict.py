"""Classify X-ray files or folders in batch and write a CSV, with the page's trust signals.

    python -m model.predict PATH... [--out predictions.csv] [--model DIR]

Each file goes through review.triage.assess_files, the code behind the
Diagnose page, so the `flags` column (semicolon-separated short codes:
not-radiograph, not-chest, lateral, age-outside-training, unlike-training,
uncertain; lateral and age-outside-training also from the pixels) and the
`reasons` column say what the page would say.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import keras

from model.dataset import CLASS_NAMES
from model.imaging.formats import image_files
from model.inference import Classifier, load_classifier
from model.paths import DEFAULT_ARTIFACTS_DIR
from model.trust.ood import OodModel, load_ood
from model.trust.view_checks import Probe, load_view_checks
from review.triage import Assessment, assess_files

FIELDS = ("file", "label", "probability_pneumonia", "threshold", "flags", "reasons", "error")


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and the image files found under folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += image_files(path)
        else:
            found.append(path)
    return found


def csv_row(path: Path, classifier: Classifier, ood: OodModel | None, probes: list[Probe]) -> dict:
    """One file's line: the call and every trust signal the page would show, or why it could not be read."""
    try:
        data = path.read_bytes()
    except OSError as error:
        row = dict.fromkeys(FIELDS, "") | {"file": str(path), "threshold": classifier.threshold}
        row["error"] = f"'{path.name}' cannot be read ({error.strerror})."
        return row
    [assessment] = assess_files(classifier, [(path.name, data)], ood, probes)
    return assessment_row(assessment) | {"file": str(path)}


def assessment_row(assessment: Assessment) -> dict:
    """An assessment as a CSV line: what the page says of it, in the columns FIELDS names."""
    row = dict.fromkeys(FIELDS, "") | {"file": assessment.name, "threshold": assessment.threshold}
    if not assessment.ok:
        row["error"] = assessment.error
        return row
    signals = assessment.trust_signals
    return row | {
        "label": assessment.label_name,
        "probability_pneumonia": f"{assessment.probability:.4f}",
        "flags": ";".join(signal.code for signal in signals),
        "reasons": " | ".join(signal.reason for signal in signals),
    }


def trust_checks(model_dir: Path) -> tuple[OodModel | None, list[Probe]]:
    """The model's out-of-distribution detector and view probes, each left out with a note when it is missing."""
    try:
        ood = load_ood(model_dir)
    except (FileNotFoundError, ValueError) as error:
        ood = None
        print(f"note: no out-of-distribution check, so no unlike-training flag ({error})", file=sys.stderr)
    try:
        probes = load_view_checks(model_dir)
    except (FileNotFoundError, ValueError) as error:
        probes = []
        print(f"note: no image-only lateral and adult checks ({error})", file=sys.stderr)
    return ood, probes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.predict", description=__doc__.split("\n")[0])
    parser.add_argument("paths", nargs="+", type=Path, help="image files or folders")
    parser.add_argument("--out", type=Path, default=Path("predictions.csv"))
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS_DIR, help="artifacts folder")
    args = parser.parse_args(argv)
    files = expand_paths(args.paths)
    if not files:
        print("error: no image files found", file=sys.stderr)
        return 2
    classifier = load_classifier(args.model)
    ood, probes = trust_checks(args.model)
    rows: list[dict] = []
    progress = keras.utils.Progbar(len(files), unit_name="image")
    for done, path in enumerate(files, start=1):
        rows.append(csv_row(path, classifier, ood, probes))
        progress.update(done)
    with args.out.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    labels = [r["label"] for r in rows]
    failed = sum(1 for r in rows if r["error"])
    counts = ", ".join(f"{name} {labels.count(name)}" for name in CLASS_NAMES)
    print(f"{len(rows)} files: {counts}, unreadable {failed}. Written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
