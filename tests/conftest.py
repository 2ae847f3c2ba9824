"""Shared fixtures: the dataset beside the project, the committed model, images made on the fly."""
from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from markdown_it import MarkdownIt
from PIL import Image
from playwright.sync_api import Browser, sync_playwright
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from model.inference import Classifier, load_classifier
from model.paths import ARTIFACTS_ENV, DEFAULT_ARTIFACTS_DIR, PROJECT_ROOT
from tests.browser import launch_chromium
from tests.services import OrthancServer, PostgresServer, orthanc_server, postgres_server

if TYPE_CHECKING:
    from tests.inputs import PacsStudy

DATA_ROOT = PROJECT_ROOT.parent / "shared" / "data" / "chest_xray"
VAL_DIR = DATA_ROOT / "val"


# Names through which a test or fixture reaches the data beside the project.
DATA_NAMES = {"DATA_ROOT", "VAL_DIR", "OTHER_XRAYS", "val_images"}


def _reads_data(item: pytest.Item) -> bool:
    """The test, or a fixture it uses, names the dataset (fixtures by name, folders by their constants)."""
    if DATA_NAMES & set(getattr(item, "fixturenames", ())):
        return True
    functions = [item.function] if isinstance(item, pytest.Function) else []
    for definitions in getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {}).values():
        functions += [definition.func for definition in definitions]
    return any(DATA_NAMES & set(function.__code__.co_names) for function in functions)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """needs_data follows from the code: a test that reads the dataset is marked, so the marker cannot drift."""
    for item in items:
        if _reads_data(item):
            item.add_marker(pytest.mark.needs_data)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the whole run; each test makes its own database on it."""
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def pacs_studies(val_images) -> dict[str, tuple[PacsStudy, str, Path]]:
    """The made-up studies the test PACS holds, by accession: the study, its transfer syntax and its X-ray."""
    from tests.inputs import PacsStudy  # tests.inputs imports this module

    return {
        "ACC-1001": (PacsStudy("PID-1", "Doe^Jane", "ACC-1001", "20261101"), ExplicitVRLittleEndian, val_images[0][0]),
        "ACC-1002": (PacsStudy("PID-2", "Roe^Rick", "ACC-1002", "20261115", modality="DX"), JPEG2000Lossless,
                     val_images[9][0]),
        "ACC-1003": (PacsStudy("PID-2", "Roe^Rick", "ACC-1003", "20261120"), RLELossless, val_images[12][0]),
    }


@pytest.fixture(scope="session")
def pacs(pacs_studies, tmp_path_factory) -> Iterator[OrthancServer]:
    """One real Orthanc (DICOMweb, authentication on) for the run, holding the chest X-rays of pacs_studies and
    one CT image, which a search for chest radiographs must not find."""
    from tests.inputs import store_studies

    with orthanc_server(tmp_path_factory.mktemp("orthanc") / "orthanc.log") as server:
        store_studies(server, pacs_studies.values())
        server.store(Path(get_testdata_file("CT_small.dcm")).read_bytes())
        yield server


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """The committed model; XRAY_MODEL_DIR may point at another trained one."""
    return Path(os.environ.get(ARTIFACTS_ENV, DEFAULT_ARTIFACTS_DIR))


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


MARKDOWN = MarkdownIt("commonmark")


def displayed(markdown: str) -> str:
    """The text a reader sees of markdown, as a CommonMark parser reads it: each block's text on a line of its own."""
    blocks = [
        "".join(" " if child.type in ("softbreak", "hardbreak") else child.content for child in token.children or [])
        if token.type == "inline" else token.content
        for token in MARKDOWN.parse(markdown)
        if token.type in ("inline", "code_block", "fence")
    ]
    return "\n".join(blocks)


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def xray_pixels(val_images) -> np.ndarray:
    """One real full-resolution X-ray as 8-bit grayscale."""
    return np.asarray(Image.open(val_images[8][0]).convert("L"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Chromium per module, for the browser and topology tests."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
