"""Shared fixtures: the dataset beside the project, the committed model, images made on the fly."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model.inference import Classifier, load_classifier
from model.paths import DEFAULT_ARTIFACTS_DIR, PROJECT_ROOT

DATA_ROOT = PROJECT_ROOT.parent / "shared" / "data" / "chest_xray"
VAL_DIR = DATA_ROOT / "val"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that takes the dataset's images is marked needs_data, so the marker cannot drift from the fixtures."""
    for item in items:
        if "val_images" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.needs_data)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """The committed model; XRAY_MODEL_DIR may point at another trained one."""
    return Path(os.environ.get("XRAY_MODEL_DIR", DEFAULT_ARTIFACTS_DIR))


@pytest.fixture(scope="session")
def classifier(artifacts_dir: Path) -> Classifier:
    return load_classifier(artifacts_dir)


@pytest.fixture(scope="session")
def val_images() -> list[tuple[Path, int]]:
    """The 16 full-resolution validation originals with labels (0 NORMAL, 1 PNEUMONIA)."""
    found = [(p, 0) for p in sorted((VAL_DIR / "NORMAL").iterdir())]
    found += [(p, 1) for p in sorted((VAL_DIR / "PNEUMONIA").iterdir())]
    assert len(found) == 16, f"expected 16 validation images under {VAL_DIR}"
    return found


def displayed(markdown: str) -> str:
    """The text a reader sees of markdown written through ui.text.plain: its escapes and word joiners removed."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def xray_pixels(val_images) -> np.ndarray:
    """One real full-resolution X-ray as 8-bit grayscale."""
    return np.asarray(Image.open(val_images[8][0]).convert("L"))
