"""The typed model card: it reads and writes model_card.json without losing or reordering anything."""
from __future__ import annotations

import json
from pathlib import Path

from model.card import CARD_FILE, ModelCard, read_card, write_card
from model.operating_point import OperatingPoint


def test_the_committed_card_is_written_back_byte_for_byte(artifacts_dir: Path, tmp_path: Path) -> None:
    write_card(read_card(artifacts_dir), tmp_path)
    assert (tmp_path / CARD_FILE).read_bytes() == (artifacts_dir / CARD_FILE).read_bytes()


def test_the_operating_point_and_its_provenance_are_typed(artifacts_dir: Path) -> None:
    stored = json.loads((artifacts_dir / CARD_FILE).read_text())
    card = read_card(artifacts_dir)
    assert card.point == OperatingPoint(stored["temperature"], stored["threshold"], stored["target_sensitivity"])
    assert card.provenance.fitted_on.counts == stored["operating_point"]["fitted_on"]["counts"]
    assert str(card.provenance.fitted_on.patients) in card.fitted_on_phrase()


def test_sections_this_code_does_not_know_are_kept_and_written_back(artifacts_dir: Path) -> None:
    stored = json.loads((artifacts_dir / CARD_FILE).read_text())
    with_extra = {**stored, "site_review": {"approved_by": "radiology QA", "on": "2026-12-01"}}
    card = ModelCard.from_json(with_extra)
    assert card.extra == {"site_review": with_extra["site_review"]}
    assert card.to_json() == with_extra and list(card.to_json()) == list(with_extra)
