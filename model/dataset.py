"""Find labelled images in the Kaggle folder layout and split them without leaks.

A dataset root holds `train/`, and optionally `val/` and `test/`, each with
`NORMAL/` and `PNEUMONIA/`. A labelled folder is one such split on its own.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

from model.classes import CLASS_NAMES
from model.errors import ImageInputError
from model.imaging.decode import read_image
from model.imaging.decoded import DecodedImage
from model.imaging.formats import image_files
from model.imaging.preprocess import to_model_input

MIN_VAL_PER_CLASS = 100


@dataclass
class LabelledFiles:
    """Image paths (files, or members of an archive) with labels (0 NORMAL, 1 PNEUMONIA), in a stable order."""

    paths: list[PurePath]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, indices: np.ndarray) -> LabelledFiles:
        return LabelledFiles([self.paths[i] for i in indices], self.labels[indices])

    def class_counts(self) -> dict[str, int]:
        return {name: int((self.labels == k).sum()) for k, name in enumerate(CLASS_NAMES)}


def is_labelled_folder(folder: Path) -> bool:
    return all((folder / name).is_dir() for name in CLASS_NAMES)


def list_labelled_files(folder: str | Path) -> LabelledFiles:
    """List the images under `folder/NORMAL` and `folder/PNEUMONIA`."""
    folder = Path(folder)
    if not is_labelled_folder(folder):
        raise FileNotFoundError(
            f"{folder} must contain the folders {' and '.join(CLASS_NAMES)} (Kaggle chest_xray layout)."
        )
    paths: list[Path] = []
    labels: list[int] = []
    for label, name in enumerate(CLASS_NAMES):
        found = image_files(folder / name)
        paths += found
        labels += [label] * len(found)
    return LabelledFiles(paths, np.asarray(labels, dtype=np.int64))


def resolve_evaluation_folder(data: str | Path) -> Path:
    """A labelled folder as given, or the `test/` split of a Kaggle root."""
    data = Path(data)
    if is_labelled_folder(data):
        return data
    if is_labelled_folder(data / "test"):
        return data / "test"
    raise FileNotFoundError(
        f"{data} holds neither NORMAL/ and PNEUMONIA/ folders nor a test/ split with them."
    )


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def split_train_validation(
    files: LabelledFiles, validation_fraction: float, seed: int
) -> tuple[LabelledFiles, LabelledFiles]:
    """Stratified split that keeps byte-identical copies on the same side.

    Copies of one file form a group, so a copy can never sit in training while
    its twin is used to judge the model.
    """
    from sklearn.model_selection import StratifiedGroupKFold  # 2 s to import: not on the way to the app's first page

    digests = [file_digest(p) for p in files.paths]
    _, groups = np.unique(digests, return_inverse=True)
    n_splits = max(2, round(1.0 / validation_fraction))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    train_idx, val_idx = next(splitter.split(np.zeros(len(files)), files.labels, groups))
    return files.subset(np.sort(train_idx)), files.subset(np.sort(val_idx))


def training_splits(
    root: str | Path, validation_fraction: float, seed: int
) -> tuple[LabelledFiles, LabelledFiles, str]:
    """Training and validation files of a dataset root, and where validation came from."""
    root = Path(root)
    train = list_labelled_files(root / "train")
    if is_labelled_folder(root / "val"):
        given = list_labelled_files(root / "val")
        if min(given.class_counts().values()) >= MIN_VAL_PER_CLASS:
            return train, given, "val/ folder"
    fit, held = split_train_validation(train, validation_fraction, seed)
    return fit, held, f"{validation_fraction * 100:g}% of train/, stratified, duplicates grouped (seed {seed})"


@dataclass
class LoadedImages:
    """Preprocessed network inputs of the files that could be read, and those that could not."""

    inputs: np.ndarray
    labels: np.ndarray
    paths: list[PurePath]
    source_sizes: list[tuple[int, int]]
    skipped: list[tuple[PurePath, str]]


def load_model_inputs(
    files: LabelledFiles,
    image_size: int,
    progress: Callable[[int, int], None] | None = None,
    read: Callable[[PurePath], DecodedImage] = read_image,
) -> LoadedImages:
    """Decode (with `read`: a file, or an archive member) and preprocess every image; unreadable ones are listed."""
    inputs: list[np.ndarray] = []
    labels: list[int] = []
    kept: list[PurePath] = []
    sizes: list[tuple[int, int]] = []
    skipped: list[tuple[PurePath, str]] = []
    for done, (path, label) in enumerate(zip(files.paths, files.labels), start=1):
        if progress is not None:
            progress(done, len(files))
        try:
            pixels = read(path).pixels
        except ImageInputError as error:
            skipped.append((path, str(error)))
            continue
        inputs.append(to_model_input(pixels, image_size))
        labels.append(int(label))
        kept.append(path)
        sizes.append((pixels.shape[1], pixels.shape[0]))
    array = np.stack(inputs) if inputs else np.zeros((0, image_size, image_size, 1), np.float32)
    return LoadedImages(array, np.asarray(labels, dtype=np.int64), kept, sizes, skipped)
