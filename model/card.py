"""Where the trained model lives and how its card and per-image scores are stored."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.paths import DEFAULT_ARTIFACTS_DIR

MODEL_FILE = "pneumonia_cnn.keras"
CARD_FILE = "model_card.json"
VALIDATION_SCORES_FILE = "validation_scores.csv"
SCORE_FIELDS = ("file", "label", "logit", "probability")
SCORE_DECIMALS = 6


@dataclass
class Scores:
    """Per-image results of one evaluation set; labels 0 NORMAL, 1 PNEUMONIA."""

    files: list[str]
    labels: np.ndarray
    logits: np.ndarray
    probabilities: np.ndarray

    def rows(self) -> list[dict]:
        return [
            {"file": f, "label": int(y), "logit": float(z), "probability": float(p)}
            for f, y, z, p in zip(self.files, self.labels, self.logits, self.probabilities)
        ]

    @classmethod
    def from_rows(cls, rows: list[dict]) -> Scores:
        return cls(
            [str(r["file"]) for r in rows],
            np.asarray([int(r["label"]) for r in rows], dtype=np.int64),
            np.asarray([float(r["logit"]) for r in rows], dtype=np.float64),
            np.asarray([float(r["probability"]) for r in rows], dtype=np.float64),
        )


def write_scores(scores: Scores, path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=SCORE_FIELDS)
        writer.writeheader()
        for row in scores.rows():
            writer.writerow(
                {
                    **row,
                    "logit": f"{row['logit']:.{SCORE_DECIMALS}f}",
                    "probability": f"{row['probability']:.{SCORE_DECIMALS}f}",
                }
            )


def stored_threshold(threshold: float) -> float:
    """The operating threshold at the precision stored scores have.

    The threshold is the score of one validation image; once that score is
    rounded to SCORE_DECIMALS it can fall just below the unrounded threshold
    and flip to a false negative, so stored scores are compared with the
    threshold rounded the same way.
    """
    return round(threshold, SCORE_DECIMALS)


def read_scores(path: Path) -> Scores:
    with path.open(newline="") as handle:
        return Scores.from_rows(list(csv.DictReader(handle)))


def write_card(card: dict, artifacts_dir: Path) -> None:
    (artifacts_dir / CARD_FILE).write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")


def read_card(artifacts_dir: Path = DEFAULT_ARTIFACTS_DIR) -> dict:
    return json.loads((Path(artifacts_dir) / CARD_FILE).read_text())
