"""The validation split: deterministic, stratified, and never splitting byte-identical copies."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.dataset import (
    file_digest,
    list_labelled_files,
    resolve_evaluation_folder,
    split_train_validation,
    training_splits,
)
from tests.conftest import DATA_ROOT


def make_dataset(root: Path, normal: int, pneumonia: int, copies: int) -> None:
    """Distinct small PNGs per class, plus `copies` byte-identical twins in each class."""
    rng = np.random.default_rng(0)
    for name, count in (("NORMAL", normal), ("PNEUMONIA", pneumonia)):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (70, 70), dtype=np.uint8)).save(folder / f"{name}_{i}.png")
        for i in range(copies):
            shutil.copyfile(folder / f"{name}_{i}.png", folder / f"{name}_{i}_copy.png")


@pytest.fixture
def synthetic_root(tmp_path: Path) -> Path:
    make_dataset(tmp_path, normal=60, pneumonia=140, copies=12)
    return tmp_path


def test_split_is_deterministic_and_disjoint(synthetic_root):
    files = list_labelled_files(synthetic_root / "train")
    first = split_train_validation(files, 0.125, seed=7)
    second = split_train_validation(files, 0.125, seed=7)
    other = split_train_validation(files, 0.125, seed=8)
    assert first[1].paths == second[1].paths
    assert first[1].paths != other[1].paths
    assert not set(first[0].paths) & set(first[1].paths)
    assert len(first[0]) + len(first[1]) == len(files)


def test_split_is_stratified(synthetic_root):
    files = list_labelled_files(synthetic_root / "train")
    _, held = split_train_validation(files, 0.125, seed=3)
    assert 0.08 < len(held) / len(files) < 0.17
    assert abs(held.labels.mean() - files.labels.mean()) < 0.08


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_identical_files_stay_on_one_side(synthetic_root, seed):
    files = list_labelled_files(synthetic_root / "train")
    fit, held = split_train_validation(files, 0.125, seed=seed)
    fit_digests = {file_digest(p) for p in fit.paths}
    held_digests = {file_digest(p) for p in held.paths}
    assert not fit_digests & held_digests


def test_real_training_split_keeps_duplicates_together():
    fit, held, source = training_splits(DATA_ROOT, 0.125, seed=42)
    assert "duplicates grouped" in source
    assert not {file_digest(p) for p in fit.paths} & {file_digest(p) for p in held.paths}
    assert len(fit) + len(held) == 1341 + 3875


def test_given_val_folder_is_used_only_when_large_enough(synthetic_root):
    make_dataset(synthetic_root / "small", normal=5, pneumonia=5, copies=0)
    (synthetic_root / "small" / "train").rename(synthetic_root / "val")
    _, _, source = training_splits(synthetic_root, 0.125, seed=0)
    assert "of train/" in source
    make_dataset(synthetic_root / "big", normal=100, pneumonia=100, copies=0)
    shutil.rmtree(synthetic_root / "val")
    (synthetic_root / "big" / "train").rename(synthetic_root / "val")
    _, held, source = training_splits(synthetic_root, 0.125, seed=0)
    assert source == "val/ folder" and len(held) == 200


def test_evaluation_folder_resolution(synthetic_root):
    assert resolve_evaluation_folder(synthetic_root / "train") == synthetic_root / "train"
    (synthetic_root / "train").rename(synthetic_root / "test")
    assert resolve_evaluation_folder(synthetic_root) == synthetic_root / "test"
    with pytest.raises(FileNotFoundError, match="NORMAL"):
        resolve_evaluation_folder(synthetic_root / "test" / "NORMAL")
