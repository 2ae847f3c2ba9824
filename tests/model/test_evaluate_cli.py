"""The evaluation and batch-prediction commands, as they are run from outside."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from model.evaluate import main as evaluate_main
from model.imaging.decode import read_image
from model.predict import main as predict_main
from tests.conftest import VAL_DIR
from tests.inputs import dicom_bytes

REQUIRED = {"n", "accuracy", "sensitivity", "specificity", "precision", "f1", "auroc", "threshold",
            "confusion_matrix", "scores", "skipped"}


@pytest.fixture(scope="module")
def labelled_folder(tmp_path_factory) -> Path:
    """The 16 full-resolution val images plus one damaged file per class."""
    root = tmp_path_factory.mktemp("labelled")
    shutil.copytree(VAL_DIR, root, dirs_exist_ok=True)
    (root / "NORMAL" / "damaged.jpeg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "PNEUMONIA" / "empty.png").write_bytes(b"")
    return root


def test_evaluate_writes_the_contract_json(labelled_folder, artifacts_dir, tmp_path, capsys):
    out = tmp_path / "report.json"
    assert evaluate_main(["--data", str(labelled_folder), "--model", str(artifacts_dir), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report.keys() >= REQUIRED
    assert report["n"] == 16
    assert sorted(Path(s["file"]).name for s in report["skipped"]) == ["damaged.jpeg", "empty.png"]
    printed = capsys.readouterr().out
    assert "sensitivity" in printed and "damaged.jpeg" in printed

    labels = np.array([s["label"] for s in report["scores"]])
    probabilities = np.array([s["probability"] for s in report["scores"]])
    predicted = (probabilities >= report["threshold"]).astype(int)
    assert report["accuracy"] == pytest.approx(accuracy_score(labels, predicted))
    assert report["sensitivity"] == pytest.approx(recall_score(labels, predicted))
    assert report["specificity"] == pytest.approx(recall_score(labels, predicted, pos_label=0))
    assert report["precision"] == pytest.approx(precision_score(labels, predicted, zero_division=np.nan), nan_ok=True)
    assert report["f1"] == pytest.approx(f1_score(labels, predicted))
    assert report["auroc"] == pytest.approx(roc_auc_score(labels, probabilities))
    assert report["confusion_matrix"] == confusion_matrix(labels, predicted).tolist()


def test_evaluate_takes_a_kaggle_root_and_uses_its_test_split(labelled_folder, artifacts_dir, tmp_path):
    root = tmp_path / "kaggle"
    shutil.copytree(labelled_folder, root / "test")
    out = tmp_path / "kaggle.json"
    assert evaluate_main(["--data", str(root), "--model", str(artifacts_dir), "--out", str(out)]) == 0
    assert json.loads(out.read_text())["name"] == "kaggle/test"


def test_evaluate_refuses_a_folder_without_classes(tmp_path, capsys):
    assert evaluate_main(["--data", str(tmp_path), "--out", str(tmp_path / "x.json")]) == 2
    assert "NORMAL" in capsys.readouterr().err


def test_predict_writes_one_row_per_file_with_errors_named(labelled_folder, artifacts_dir, tmp_path, capsys):
    out = tmp_path / "predictions.csv"
    single = labelled_folder / "PNEUMONIA" / "person1946_bacteria_4874.jpeg"
    assert predict_main([str(labelled_folder / "NORMAL"), str(single), "--out", str(out),
                         "--model", str(artifacts_dir)]) == 0
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 10
    failed = [r for r in rows if r["error"]]
    assert [Path(r["file"]).name for r in failed] == ["damaged.jpeg"]
    for row in rows:
        if not row["error"]:
            assert row["label"] in {"NORMAL", "PNEUMONIA"}
            assert 0.0 <= float(row["probability_pneumonia"]) <= 1.0
    assert "10 files" in capsys.readouterr().out


def test_predict_writes_the_pages_trust_flags_and_reasons(val_images, artifacts_dir, tmp_path):
    """A CT by its header and an adult by its age get the same codes and reasons the Diagnose page gives."""
    pixels = read_image(val_images[9][0]).pixels.astype(np.uint16) * 16
    (tmp_path / "ct.dcm").write_bytes(dicom_bytes(pixels, Modality="CT"))
    (tmp_path / "adult.dcm").write_bytes(dicom_bytes(pixels, PatientAge="062Y", ViewPosition="PA"))
    shutil.copy(val_images[0][0], tmp_path / val_images[0][0].name)
    out = tmp_path / "flags.csv"
    assert predict_main([str(tmp_path), "--out", str(out), "--model", str(artifacts_dir)]) == 0
    rows = {Path(row["file"]).name: row for row in csv.DictReader(out.open())}
    assert "not-radiograph" in rows["ct.dcm"]["flags"].split(";")
    assert "Modality CT" in rows["ct.dcm"]["reasons"]
    assert rows["adult.dcm"]["flags"].split(";")[0] == "age-outside-training"
    assert "62 years" in rows["adult.dcm"]["reasons"]
    jpeg = rows[val_images[0][0].name]
    assert jpeg["label"] in {"NORMAL", "PNEUMONIA"} and not jpeg["error"]
    assert not {"not-radiograph", "age-outside-training", "lateral"} & set(jpeg["flags"].split(";"))
