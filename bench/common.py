"""What the benchmarks share: which model and data they run on, and where their figures go.

Benchmarks run as scripts (python bench/NAME.py), so this module puts the
project root on sys.path before they import model.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
sys.path.insert(0, str(PROJECT_ROOT))

from model.artifacts import DEFAULT_ARTIFACTS_DIR, VALIDATION_SCORES_FILE, Scores, read_scores  # noqa: E402
from model.inference import Classifier, load_classifier  # noqa: E402


@dataclass
class BenchSetup:
    """The model under test, the dataset root it was trained on, and its validation-split scores."""

    classifier: Classifier
    artifacts_dir: Path
    data_root: Path
    validation: Scores


def bench_parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_ARTIFACTS_DIR, help="artifacts folder")
    parser.add_argument("--data", type=Path, help="dataset root; default: the one recorded in the model card")
    return parser


def bench_setup(args: argparse.Namespace) -> BenchSetup:
    classifier = load_classifier(args.model)
    root = args.data or (PROJECT_ROOT / classifier.card["data"]["root"])
    return BenchSetup(classifier, args.model, root, read_scores(args.model / VALIDATION_SCORES_FILE))


def report(text: str, name: str) -> None:
    """Print the figures and keep them in bench/results/NAME."""
    print(text, end="")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / name).write_text(text)
