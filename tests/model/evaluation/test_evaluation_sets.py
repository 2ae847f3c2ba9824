"""Evaluation sets as the Model & data page reads them from the artifacts."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from model.card import read_card
from model.evaluate import EVALUATIONS_DIR
from model.evaluation.sets import report_set, stored_evaluation_sets, unique_name, validation_set

REPORT = {
    "name": "ward7",
    "data": "",
    "model_version": "v1",
    "skipped": [{"file": "NORMAL/bad.jpeg", "reason": "damaged"}],
    "scores": [
        {"file": "NORMAL/a.jpeg", "label": 0, "logit": -2.0, "probability": 0.1},
        {"file": "PNEUMONIA/b.jpeg", "label": 1, "logit": 3.0, "probability": 0.95},
    ],
}


def test_validation_set_matches_the_card_and_finds_its_images(artifacts_dir: Path) -> None:
    card = read_card(artifacts_dir)
    validation = validation_set(artifacts_dir, card)
    counts = card.data["validation"]["counts"]
    assert validation.scores.labels.tolist().count(0) == counts["NORMAL"]
    assert validation.scores.labels.tolist().count(1) == counts["PNEUMONIA"]
    assert validation.model_version == card.version
    assert validation.image_root is not None, "the dataset recorded in the card should be beside the project"
    assert validation.image_path(validation.scores.files[0]) is not None


def test_report_set_reads_the_evaluate_report(tmp_path: Path) -> None:
    evaluation = report_set({**REPORT, "data": str(tmp_path)})
    assert evaluation.name == "ward7"
    assert evaluation.scores.labels.tolist() == [0, 1]
    assert np.allclose(evaluation.scores.logits, [-2.0, 3.0])
    assert evaluation.image_root == tmp_path
    assert evaluation.image_path("NORMAL/a.jpeg") is None
    assert evaluation.skipped == REPORT["skipped"]


def test_stored_sets_are_read_and_broken_reports_named(tmp_path: Path) -> None:
    folder = tmp_path / EVALUATIONS_DIR
    folder.mkdir()
    (folder / "ward7.json").write_text(json.dumps(REPORT))
    (folder / "broken.json").write_text("{ not json")
    (folder / "partial.json").write_text(json.dumps({"name": "partial"}))
    sets, problems = stored_evaluation_sets(tmp_path)
    assert [s.name for s in sets] == ["ward7"]
    assert sets[0].image_root is None
    assert len(problems) == 2
    assert any("'broken.json' could not be read" in problem for problem in problems)
    assert stored_evaluation_sets(tmp_path / "elsewhere") == ([], [])


def test_unique_name_numbers_repeats() -> None:
    assert unique_name("val", ["validation"]) == "val"
    assert unique_name("val", ["val", "val (2)"]) == "val (3)"
