"""Where the project's own files are: every path the code resolves starts here."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ARTIFACTS_DIR = PROJECT_ROOT / "model" / "artifacts"
SAMPLES_DIR = PROJECT_ROOT / "assets" / "samples"
# Points the app, the tests and the benchmarks at another trained model folder.
ARTIFACTS_ENV = "XRAY_MODEL_DIR"


def artifacts_dir() -> Path:
    """The committed model, unless XRAY_MODEL_DIR points at another trained one (the app and its workers alike)."""
    return Path(os.environ.get(ARTIFACTS_ENV, DEFAULT_ARTIFACTS_DIR))
