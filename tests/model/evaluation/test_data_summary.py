"""Dataset scans behind the Model & data page: class balance, image sizes, samples, recorded folders."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.evaluation.data_summary import (
    PROJECT_ROOT,
    class_of,
    class_shares,
    existing_folder,
    image_sizes,
    images_by_class,
    imbalance_ratio,
    label_counts,
    sample_per_class,
    thumbnail,
)


def write_image(path: Path, width: int, height: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width), 128, np.uint8)).save(path)
    return path


def test_counts_shares_and_imbalance() -> None:
    counts = label_counts(np.array([1, 1, 1, 0, 1, 1, 0, 1]))
    assert counts == {"NORMAL": 2, "PNEUMONIA": 6}
    assert class_shares(counts) == {"NORMAL": 0.25, "PNEUMONIA": 0.75}
    assert imbalance_ratio(counts) == 3.0
    assert imbalance_ratio({"NORMAL": 5, "PNEUMONIA": 5}) == 1.0
    assert math.isinf(imbalance_ratio({"NORMAL": 0, "PNEUMONIA": 4}))
    assert math.isnan(imbalance_ratio({"NORMAL": 0, "PNEUMONIA": 0}))


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("train/PNEUMONIA/person1_virus_6.jpeg", "PNEUMONIA"),
        ("test/NORMAL/IM-0001-0001.jpeg", "NORMAL"),
        ("normal_1.png", "NORMAL"),
        ("samples/Pneumonia-bacterial.jpg", "PNEUMONIA"),
        ("NORMAL/pneumonia_lookalike.jpeg", "PNEUMONIA"),
        ("other/IM-0001.jpeg", None),
    ],
)
def test_class_of_reads_the_nearest_name(path: str, expected: str | None) -> None:
    assert class_of(Path(path)) == expected


def test_images_by_class_covers_kaggle_and_flat_layouts(tmp_path: Path) -> None:
    for name in ("train/NORMAL/b.jpeg", "train/NORMAL/a.jpeg", "val/PNEUMONIA/c.png", "normal_2.png",
                 "unlabelled.png"):
        write_image(tmp_path / name, 80, 64)
    (tmp_path / "train" / "NORMAL" / "notes.txt").write_text("not an image")
    groups = images_by_class(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in groups["NORMAL"]] == [
        "normal_2.png", "train/NORMAL/a.jpeg", "train/NORMAL/b.jpeg"
    ]
    assert [p.name for p in groups["PNEUMONIA"]] == ["c.png"]


def test_sample_per_class_is_seeded_bounded_and_ordered() -> None:
    groups = {"NORMAL": [Path(f"n{i:02d}") for i in range(20)], "PNEUMONIA": [Path("p0"), Path("p1")]}
    first = sample_per_class(groups, 4, seed=3)
    assert first == sample_per_class(groups, 4, seed=3)
    assert len(first["NORMAL"]) == 4 and first["NORMAL"] == sorted(first["NORMAL"])
    assert set(first["NORMAL"]) <= set(groups["NORMAL"])
    assert first["PNEUMONIA"] == [Path("p0"), Path("p1")]


def test_image_sizes_reads_headers_and_skips_unreadable_files(tmp_path: Path) -> None:
    wide = write_image(tmp_path / "wide.png", 300, 200)
    tall = write_image(tmp_path / "tall.jpeg", 120, 240)
    broken = tmp_path / "broken.jpeg"
    broken.write_bytes(b"not an image")
    assert image_sizes([wide, broken, tall, tmp_path / "missing.png"]) == [(300, 200), (120, 240)]


def test_thumbnail_keeps_the_aspect_ratio(tmp_path: Path) -> None:
    small = thumbnail(write_image(tmp_path / "x.png", 800, 600), 200)
    assert small.shape == (150, 200)
    assert small.dtype == np.uint8


def test_existing_folder_resolves_relative_paths_from_the_project_root(tmp_path: Path) -> None:
    assert existing_folder("model") == PROJECT_ROOT / "model"
    assert existing_folder(str(tmp_path)) == tmp_path
    assert existing_folder(str(tmp_path / "absent")) is None
    assert existing_folder("no/such/folder") is None
    assert existing_folder("") is None
