"""Score a labelled folder with the trained model and report its metrics.

    python -m model.evaluate --data DIR [--model PATH] [--out FILE.json]

DIR holds NORMAL/ and PNEUMONIA/, or is a Kaggle root whose test/ split is
used. Unreadable files are listed and skipped. The JSON (written to
`<artifacts>/evaluations/<name>.json` unless --out is given) is what the
Model & data page shows as an evaluation set.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path, PurePath

from model.card import Scores
from model.dataset import (
    LabelledFiles,
    list_labelled_files,
    load_model_inputs,
    resolve_evaluation_folder,
)
from model.evaluation.bootstrap import confidence_intervals, patient_of
from model.evaluation.metrics import (
    binary_metrics,
    format_summary,
    per_class_report,
)
from model.imaging.decode import read_image
from model.imaging.decoded import DecodedImage
from model.inference import Classifier, load_classifier
from model.operating_point import calls_at
from model.paths import DEFAULT_ARTIFACTS_DIR

EVALUATIONS_DIR = "evaluations"


def scores_report(
    name: str, data: str, model_version: str, scores: Scores, threshold: float, skipped: list[dict]
) -> dict:
    """An evaluation report: metrics with 95 % patient-bootstrap intervals, the per-class report and every score."""
    return {
        "name": name,
        "data": data,
        "model_version": model_version,
        "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **binary_metrics(scores.labels, scores.probabilities, threshold),
        "intervals": confidence_intervals(
            scores.labels,
            scores.probabilities,
            calls_at(scores.probabilities, threshold),
            [patient_of(file) for file in scores.files],
        ),
        "classification_report": per_class_report(scores.labels, scores.probabilities, threshold),
        "skipped": skipped,
        "scores": scores.rows(),
    }


def score_files(
    classifier: Classifier,
    files: LabelledFiles,
    where: str,
    progress: Callable[[int, int], None] | None = None,
    read: Callable[[PurePath], DecodedImage] = read_image,
    name_of: Callable[[PurePath], str] = str,
) -> tuple[Scores, list[dict]]:
    """Logits and calibrated probabilities of every readable labelled image, and the skipped ones with why.

    `where` names the images' source in messages; `name_of` gives each image's name in the scores.
    """
    loaded = load_model_inputs(files, classifier.image_size, progress, read)
    skipped = [{"file": name_of(path), "reason": reason} for path, reason in loaded.skipped]
    if len(loaded.labels) == 0:
        reasons = "; ".join(dict.fromkeys(entry["reason"] for entry in skipped[:3]))
        raise ValueError(
            f"No readable images in {where} under NORMAL/ or PNEUMONIA/" + (f": {reasons}" if reasons else ".")
        )
    logits = classifier.logits(loaded.inputs)
    scores = Scores(
        [name_of(p) for p in loaded.paths],
        loaded.labels,
        logits,
        classifier.point.probabilities(logits),
    )
    return scores, skipped


def score_folder(
    classifier: Classifier, folder: Path, progress: Callable[[int, int], None] | None = None
) -> tuple[Scores, list[dict]]:
    """score_files of a labelled folder, each image named by its path inside the folder."""
    return score_files(classifier, list_labelled_files(folder), str(folder), progress,
                       name_of=lambda path: str(Path(path).relative_to(folder)))


def evaluate_folder(
    classifier: Classifier, folder: Path, progress: Callable[[int, int], None] | None = None
) -> dict:
    """Metrics and per-image scores of a labelled folder at the model's threshold."""
    scores, skipped = score_folder(classifier, folder, progress)
    name = folder.name if folder.name != "test" else f"{folder.parent.name}/test"
    return scores_report(name, str(folder), classifier.version, scores, classifier.threshold, skipped)


def default_output(artifacts_dir: Path, report: dict) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in report["name"]) or "evaluation"
    return artifacts_dir / EVALUATIONS_DIR / f"{safe}.json"


def artifacts_dir_of(model_path: Path) -> Path:
    """--model may name the artifacts folder or the .keras file inside it."""
    return model_path if model_path.is_dir() else model_path.parent


def labelled_data_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """The --data and --model arguments every command that scores a labelled folder takes."""
    parser = argparse.ArgumentParser(prog=prog, description=doc.split("\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="labelled folder (NORMAL/, PNEUMONIA/) or Kaggle root")
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS_DIR, help="artifacts folder or .keras file")
    return parser


def labelled_folder_or_none(data: Path) -> Path | None:
    """The labelled folder --data names, or None after saying on stderr why there is none."""
    try:
        return resolve_evaluation_folder(data)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = labelled_data_parser("python -m model.evaluate", __doc__)
    parser.add_argument("--out", type=Path, help="where to write the JSON report")
    args = parser.parse_args(argv)
    folder = labelled_folder_or_none(args.data)
    if folder is None:
        return 2
    artifacts_dir = artifacts_dir_of(args.model)
    classifier = load_classifier(artifacts_dir)
    report = evaluate_folder(classifier, folder)
    out = args.out or default_output(artifacts_dir, report)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    for skipped in report["skipped"]:
        print(f"skipped {skipped['file']}: {skipped['reason']}")
    print(format_summary(report, f"{folder} (model {classifier.version})"))
    print(f"Report written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
