"""One short training run on a handful of real images writes every artifact the app needs."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from model.card import CARD_FILE, MODEL_FILE, VALIDATION_SCORES_FILE, read_scores
from model.dataset import list_labelled_files, load_model_inputs
from model.evaluation.metrics import binary_metrics
from model.imaging.decode import read_image
from model.inference import load_classifier
from model.paths import PROJECT_ROOT
from model.train import main as train_main
from model.trust.ood import OOD_STATS_FILE, OOD_SUMMARY_FILE, load_ood
from tests.conftest import DATA_ROOT

pytestmark = pytest.mark.slow  # training runs

CARD_KEYS = {
    "version", "trained_at", "image_size", "temperature", "threshold", "seed", "data", "hyperparameters",
    "library_versions", "training_wall_time_seconds", "history", "validation_metrics", "calibration",
    "architecture", "operating_point",
}


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    for name in ("NORMAL", "PNEUMONIA"):
        target = root / "train" / name
        target.mkdir(parents=True)
        for source in sorted((DATA_ROOT / "train" / name).iterdir())[:16]:
            shutil.copyfile(source, target / source.name)
        later = root / "later" / name
        later.mkdir(parents=True)
        for source in sorted((DATA_ROOT / "calibration" / name).iterdir())[:6]:
            shutil.copyfile(source, later / source.name)
    return root


@pytest.fixture(scope="module")
def trained(tiny_dataset, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("artifacts")
    status = train_main(
        ["--data", str(tiny_dataset), "--out", str(out), "--epochs", "2", "--image-size", "64",
         "--batch-size", "8", "--validation-fraction", "0.25", "--seed", "5",
         "--calibration-data", str(tiny_dataset / "later"), "--precision", "mixed_bfloat16"]
    )
    assert status == 0
    return out


def test_training_writes_every_artifact(trained):
    assert {MODEL_FILE, CARD_FILE, VALIDATION_SCORES_FILE, OOD_STATS_FILE, OOD_SUMMARY_FILE} <= {
        p.name for p in trained.iterdir()
    }
    card = json.loads((trained / CARD_FILE).read_text())
    assert card.keys() >= CARD_KEYS
    assert card["seed"] == 5 and card["image_size"] == 64
    assert card["hyperparameters"]["epochs_run"] == 2
    counts = card["data"]["train"]["counts"], card["data"]["validation"]["counts"]
    assert sum(c["NORMAL"] + c["PNEUMONIA"] for c in counts) == 32
    assert card["data"]["train"]["image_size"]["width"]["median"] == 224
    assert len(card["history"]["val_auc"]) == len(card["history"]["selection_auc"]) == 2
    assert card["temperature"] > 0 and 0 <= card["threshold"] <= 1
    assert card["ood"]["threshold"] == load_ood(trained).threshold


def test_trained_in_bfloat16_but_saved_and_served_in_float32(trained):
    """Mixed precision speeds training; the shipped network, its scores and the process stay float32."""
    card = json.loads((trained / CARD_FILE).read_text())
    assert card["hyperparameters"]["precision"] == "mixed_bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"
    network = load_classifier(trained).network
    assert {layer.dtype_policy.name for layer in network.layers} == {"float32"}


def test_written_scores_match_the_saved_model(trained, tiny_dataset):
    classifier = load_classifier(trained)
    scores = read_scores(trained / VALIDATION_SCORES_FILE)
    assert len(scores.files) == classifier.card.validation_metrics["n"]
    recomputed = [classifier.probability_of(read_image(tiny_dataset / f).pixels) for f in scores.files]
    assert np.allclose(recomputed, scores.probabilities, atol=1e-4)
    metrics = binary_metrics(scores.labels, scores.probabilities, classifier.threshold)
    assert metrics["confusion_matrix"] == classifier.card.validation_metrics["confusion_matrix"]


def test_mirrored_strategy_trains_on_two_logical_cpus(tiny_dataset, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "model.train", "--data", str(tiny_dataset), "--out", str(tmp_path),
         "--epochs", "1", "--image-size", "64", "--batch-size", "8", "--validation-fraction", "0.25",
         "--strategy", "mirrored"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    card = json.loads((tmp_path / CARD_FILE).read_text())
    assert card["hyperparameters"]["strategy"] == "mirrored"
    assert card["hyperparameters"]["replicas"] == 2
    assert "val_auc" in result.stdout and "Validation:" in result.stdout


def test_the_epoch_is_chosen_and_the_operating_point_fitted_on_the_later_xrays(trained, tiny_dataset):
    """The kept weights are the chosen epoch's: they score the selection set as that epoch did."""
    card = json.loads((trained / CARD_FILE).read_text())
    selection = card["hyperparameters"]["epoch_selection"]
    assert selection["data"] == str(tiny_dataset / "later")
    assert selection["counts"] == {"NORMAL": 6, "PNEUMONIA": 6}
    history = card["history"]["selection_auc"]
    assert card["hyperparameters"]["best_epoch"] == 1 + max(i for i, v in enumerate(history) if v == max(history))
    classifier = load_classifier(trained)
    later = load_model_inputs(list_labelled_files(tiny_dataset / "later"), classifier.image_size)
    assert roc_auc_score(later.labels, classifier.logits(later.inputs)) == pytest.approx(max(history), abs=1e-4)
    point = card["operating_point"]
    assert point["fitted_on"]["name"] == "later" and point["previous"]["fitted_on"] == "validation"
    assert "+cal." in card["version"] and card["calibration"]["fitted_on"] == "later"
