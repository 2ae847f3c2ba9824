"""Heavy objects loaded once per server process and shared by every session."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from model.artifacts import DEFAULT_ARTIFACTS_DIR, read_card
from model.inference import Classifier, load_classifier

ARTIFACTS_ENV = "XRAY_MODEL_DIR"

DISCLAIMER = (
    "Decision support only, not a diagnosis. The model was trained on pediatric frontal chest "
    "X-rays from one hospital; a clinician must review every image and make the call."
)


def artifacts_dir() -> Path:
    """The committed model, unless XRAY_MODEL_DIR points at another trained one."""
    return Path(os.environ.get(ARTIFACTS_ENV, DEFAULT_ARTIFACTS_DIR))


@st.cache_resource(show_spinner="Loading the model…")
def get_classifier(directory: str) -> Classifier:
    return load_classifier(directory)


@st.cache_data(show_spinner=False)
def get_card(directory: str) -> dict:
    return read_card(Path(directory))


def classifier() -> Classifier:
    return get_classifier(str(artifacts_dir()))


def card() -> dict:
    return get_card(str(artifacts_dir()))
