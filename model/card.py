"""The trained model's card (a typed record of how it was made and calibrated) and its stored per-image scores."""
from __future__ import annotations

import csv
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model.classes import counts_phrase
from model.operating_point import OperatingPoint
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


@dataclass(frozen=True)
class FittedOn:
    """The labelled images an operating point was fitted on, by name, folder, class counts and file fingerprint."""

    name: str
    folder: str
    counts: dict[str, int]
    patients: int
    files_sha256: str

    def phrase(self) -> str:
        """'157 X-rays of `calibration` (59 NORMAL, 98 PNEUMONIA; 119 patients)'."""
        return (
            f"{sum(self.counts.values())} X-rays of `{self.name}` ({counts_phrase(self.counts)}; "
            f"{self.patients} patients)"
        )


@dataclass(frozen=True)
class Provenance:
    """Where the operating point comes from: the images, when, by which rules, what it replaced, how it did."""

    fitted_on: FittedOn
    fitted_at: str
    method: dict[str, str]
    previous: dict[str, Any] | None = None
    assessment: dict[str, Any] | None = None

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Provenance:
        return cls(**{**record, "fitted_on": FittedOn(**record["fitted_on"])})

    def to_json(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        if self.assessment is None:
            del record["assessment"]
        return record


# The JSON keys the operating point's three numbers are stored under, at the card's top level, in this order.
_POINT_KEYS = ("temperature", "threshold", "target_sensitivity")


@dataclass(frozen=True)
class ModelCard:
    """What model_card.json holds. Sections only people read (data, hyperparameters, history...) stay mappings."""

    version: str
    image_size: int
    point: OperatingPoint
    provenance: Provenance | None = None
    name: str = "pneumonia_cnn"
    trained_at: str = ""
    seed: int = 0
    files: dict[str, str] = field(default_factory=dict)
    ood: dict[str, Any] = field(default_factory=dict)
    architecture: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    library_versions: dict[str, str] = field(default_factory=dict)
    training_wall_time_seconds: float = 0.0
    history: dict[str, list[float]] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    validation_metrics: dict[str, Any] = field(default_factory=dict)
    # Sections this code does not know (a newer pipeline's, a site's own), kept and written back unread.
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> ModelCard:
        known = {f.name for f in dataclasses.fields(cls)} - {"point", "provenance", "extra"}
        point = OperatingPoint(**{key: float(record[key]) for key in _POINT_KEYS})
        provenance = Provenance.from_json(record["operating_point"]) if record.get("operating_point") else None
        extra = {key: value for key, value in record.items() if key not in known | set(_POINT_KEYS) | {"operating_point"}}
        return cls(point=point, provenance=provenance, extra=extra, **{k: v for k, v in record.items() if k in known})

    def to_json(self) -> dict[str, Any]:
        """The card as stored: the operating point's numbers at the top level, its provenance under operating_point."""
        record = {name: getattr(self, name) for name in ("name", "version", "trained_at", "image_size")}
        record |= {key: getattr(self.point, key) for key in _POINT_KEYS}
        if self.provenance is not None:
            record["operating_point"] = self.provenance.to_json()
        skipped = {"name", "version", "trained_at", "image_size", "point", "provenance", "extra"}
        record |= {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skipped}
        return record | self.extra

    def fitted_on_phrase(self) -> str:
        """The images the operating point came from, in words (a packaged card always records them)."""
        return self.provenance.fitted_on.phrase()


def write_card(card: ModelCard, artifacts_dir: Path) -> None:
    (artifacts_dir / CARD_FILE).write_text(json.dumps(card.to_json(), indent=2, sort_keys=False) + "\n")


def read_card(artifacts_dir: Path = DEFAULT_ARTIFACTS_DIR) -> ModelCard:
    return ModelCard.from_json(json.loads((Path(artifacts_dir) / CARD_FILE).read_text()))
