"""The labelled sets the model has been scored on: the validation split and evaluation reports.

The Model & data page redraws every figure from these per-image scores, so
nothing is re-scored when it loads.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from model.card import VALIDATION_SCORES_FILE, ModelCard, Scores, read_scores
from model.evaluate import EVALUATIONS_DIR
from model.evaluation.bootstrap import patient_of
from model.evaluation.data_summary import existing_folder

VALIDATION_NAME = "validation"


@dataclass
class EvaluationSet:
    """Per-image scores of one labelled set and where its images are, if they are on this machine."""

    name: str
    scores: Scores
    model_version: str
    image_root: Path | None = None
    skipped: list[dict] = field(default_factory=list)
    previous_threshold: float | None = None

    def threshold(self, shipped: float) -> float:
        """The threshold its calls are judged at: the shipped one, or the one it was scored at before calibration."""
        return shipped if self.previous_threshold is None else self.previous_threshold

    @property
    def patients(self) -> list[str]:
        return [patient_of(file) for file in self.scores.files]

    def image_path(self, file: str) -> Path | None:
        if self.image_root is None:
            return None
        path = self.image_root / file
        return path if path.is_file() else None


def validation_set(artifacts_dir: Path, card: ModelCard) -> EvaluationSet:
    """The validation split as training scored it; its file names are relative to the dataset root."""
    scores = read_scores(artifacts_dir / card.files.get("validation_scores", VALIDATION_SCORES_FILE))
    return EvaluationSet(
        name=VALIDATION_NAME,
        scores=scores,
        model_version=card.version,
        image_root=existing_folder(card.data["root"]),
        skipped=[{"file": file, "reason": "unreadable"} for file in card.data["validation"]["unreadable"]],
    )


def report_set(report: dict) -> EvaluationSet:
    """An evaluation report (model.evaluate.evaluate_folder) as an evaluation set."""
    return EvaluationSet(
        name=str(report["name"]),
        scores=Scores.from_rows(report["scores"]),
        model_version=str(report["model_version"]),
        image_root=existing_folder(str(report["data"])),
        skipped=list(report.get("skipped", [])),
        previous_threshold=float(report["threshold"]) if report.get("operating_point") == "previous" else None,
    )


def stored_evaluation_sets(artifacts_dir: Path) -> tuple[list[EvaluationSet], list[str]]:
    """The reports under <artifacts>/evaluations, and a message for each one that cannot be read."""
    sets: list[EvaluationSet] = []
    problems: list[str] = []
    for path in sorted((artifacts_dir / EVALUATIONS_DIR).glob("*.json")):
        try:
            sets.append(report_set(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError) as error:
            problems.append(f"Evaluation report '{path.name}' could not be read and is left out ({error}).")
    return sets, problems


def unique_name(name: str, taken: list[str]) -> str:
    """`name`, numbered if another set already uses it, so every set gets its own tab."""
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name} ({number})", number + 1
    return candidate
