"""Classify X-ray files or folders in batch and write a CSV.

    python -m model.predict PATH... [--out predictions.csv] [--model DIR]
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import keras

from model.artifacts import DEFAULT_ARTIFACTS_DIR
from model.dataset import CLASS_NAMES, IMAGE_SUFFIXES
from model.errors import ImageInputError
from model.inference import load_classifier
from model.preprocessing import read_image

FIELDS = ("file", "label", "probability_pneumonia", "threshold", "error")


def expand_paths(paths: list[Path]) -> list[Path]:
    """Files as given, and the image files found under folders, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(path)
    return found


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
    rows: list[dict] = []
    progress = keras.utils.Progbar(len(files), unit_name="image")
    for done, path in enumerate(files, start=1):
        row = {"file": str(path), "label": "", "probability_pneumonia": "", "threshold": classifier.threshold,
               "error": ""}
        try:
            probability = classifier.probability_of(read_image(path).pixels)
        except ImageInputError as error:
            row["error"] = str(error)
        else:
            row["label"] = CLASS_NAMES[int(probability >= classifier.threshold)]
            row["probability_pneumonia"] = f"{probability:.4f}"
        rows.append(row)
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
