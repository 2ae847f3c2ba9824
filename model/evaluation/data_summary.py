"""What the data looks like: class balance, source image sizes and example images per class.

The Model & data page shows these so a reader can judge what the model has
seen; scans read image headers only and a bounded sample, so they stay quick
on the full dataset.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from model.dataset import CLASS_NAMES
from model.errors import ImageInputError
from model.imaging.decode import read_image
from model.imaging.formats import image_files
from model.paths import PROJECT_ROOT


def existing_folder(recorded: str) -> Path | None:
    """A folder named in an artifact, if it exists on this machine.

    Training and evaluation run from the project root, so relative paths in
    the artifacts are relative to it, not to wherever the app was started.
    """
    if not recorded:
        return None
    path = Path(recorded).expanduser()
    if not path.is_absolute():
        path = PROJECT_ROOT / path
    return path if path.is_dir() else None


def label_counts(labels: np.ndarray) -> dict[str, int]:
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(CLASS_NAMES))
    return {name: int(counts[k]) for k, name in enumerate(CLASS_NAMES)}


def class_shares(counts: dict[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    return {name: (count / total if total else float("nan")) for name, count in counts.items()}


def imbalance_ratio(counts: dict[str, int]) -> float:
    """Images of the larger class per image of the smaller one (1.0 is balanced)."""
    larger, smaller = max(counts.values()), min(counts.values())
    if smaller == 0:
        return float("inf") if larger else float("nan")
    return larger / smaller


def class_of(relative_path: Path) -> str | None:
    """The class a path names, from the file name or the nearest folder that names one.

    Covers the Kaggle layout (train/PNEUMONIA/person1_virus_6.jpeg) and flat
    sample folders (normal_1.png).
    """
    for part in reversed(relative_path.with_suffix("").parts):
        lowered = part.lower()
        for name in CLASS_NAMES:
            if name.lower() in lowered:
                return name
    return None


def images_by_class(folder: Path) -> dict[str, list[Path]]:
    """Image files under `folder`, grouped by the class their path names, in a stable order."""
    groups: dict[str, list[Path]] = {name: [] for name in CLASS_NAMES}
    for path in image_files(folder):
        name = class_of(path.relative_to(folder))
        if name is not None:
            groups[name].append(path)
    return groups


def sample_per_class(groups: dict[str, list[Path]], per_class: int, seed: int) -> dict[str, list[Path]]:
    """A seeded random sample of up to `per_class` files of each class, so the page is the same every load."""
    rng = np.random.default_rng(seed)
    sample: dict[str, list[Path]] = {}
    for name, paths in groups.items():
        chosen = rng.choice(len(paths), size=min(per_class, len(paths)), replace=False)
        sample[name] = [paths[i] for i in sorted(chosen)]
    return sample


def image_sizes(paths: list[Path]) -> list[tuple[int, int]]:
    """(width, height) of each file that can be read, from its header where the format allows."""
    sizes: list[tuple[int, int]] = []
    for path in paths:
        try:
            with Image.open(path) as image:
                sizes.append(image.size)
        except (UnidentifiedImageError, OSError, ValueError):
            try:
                height, width = read_image(path).shape
            except ImageInputError:
                continue
            sizes.append((width, height))
    return sizes


def thumbnail(path: Path, width: int) -> np.ndarray:
    """A small grayscale copy for galleries; full-resolution X-rays are several megapixels."""
    pixels = read_image(path).pixels
    height = max(1, round(pixels.shape[0] * width / pixels.shape[1]))
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)
