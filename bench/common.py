"""What the benchmarks share: which model and data they run on, and where their figures go.

Benchmarks run as modules from the project root: python -m bench.NAME.
"""
from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.card import VALIDATION_SCORES_FILE, Scores, read_scores
from model.dataset import list_labelled_files
from model.imaging.decode import read_image
from model.inference import Classifier, load_classifier
from model.paths import DEFAULT_ARTIFACTS_DIR, PROJECT_ROOT

RESULTS_DIR = PROJECT_ROOT / "bench" / "results"
# The later X-rays that fit the operating point and judge explanations beside the validation split.
CALIBRATION_FOLDER = "calibration"


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
    root = args.data or (PROJECT_ROOT / classifier.card.data["root"])
    return BenchSetup(classifier, args.model, root, read_scores(args.model / VALIDATION_SCORES_FILE))


@dataclass(frozen=True)
class SampledImage:
    """One image of a bench sample: which set it came from, its file and its true label."""

    source: str
    path: Path
    label: int


def explanation_sample(setup: BenchSetup, per_class: int, seed: int) -> list[SampledImage]:
    """A seeded sample of `per_class` images of each class from the validation split and the calibration sample.

    Explanations are judged on both: the validation split is what the network
    learnt from, the calibration sample the later X-rays it meets in use.
    """
    rng = np.random.default_rng(seed)
    later = list_labelled_files(setup.data_root / CALIBRATION_FOLDER)
    sets = {
        "validation split": ([setup.data_root / name for name in setup.validation.files], setup.validation.labels),
        "calibration sample": (later.paths, later.labels),
    }
    sample = []
    for source, (paths, labels) in sets.items():
        for label in (0, 1):
            chosen = np.sort(rng.permutation(np.flatnonzero(np.asarray(labels) == label))[:per_class])
            sample += [SampledImage(source, Path(paths[i]), label) for i in chosen]
    return sample


def called_inputs(classifier: Classifier, sample: list[SampledImage]) -> tuple[list[np.ndarray], np.ndarray]:
    """The network inputs of a sample and the class the model calls for each (0 NORMAL, 1 PNEUMONIA)."""
    inputs = [classifier.model_input(read_image(image.path).pixels) for image in sample]
    return inputs, classifier.point.calls(classifier.probabilities(np.stack(inputs)))


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    """Median wall-clock seconds of `repeats` runs after one warm-up run."""
    action()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def report(text: str, name: str) -> None:
    """Print the figures and keep them in bench/results/NAME."""
    print(text, end="")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / name).write_text(text)
