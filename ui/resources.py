"""Heavy objects loaded once per server process and shared by every session."""
from __future__ import annotations

import gc
import os
from pathlib import Path

import keras
import streamlit as st

from model.card import ModelCard, read_card
from model.inference import Classifier, load_classifier
from model.paths import ARTIFACTS_ENV, DEFAULT_ARTIFACTS_DIR


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit clearing Keras after every script run of every session.

    Streamlit calls keras.backend.clear_session() when each run ends, for
    scripts that build a model per run. This app builds none: one network is
    loaded once and shared. The call only emptied TensorFlow's kernel cache
    and forced a full garbage collection holding the GIL; with 8 sessions at
    once it took a quarter of the server's time (py-spy) and made every call
    wait seconds. Streamlit offers no setting for it, so the public alias is
    replaced; keras' own code keeps its internal function.
    """
    keras.backend.clear_session = lambda *args, **kwargs: None


def artifacts_dir() -> Path:
    """The committed model, unless XRAY_MODEL_DIR points at another trained one."""
    return Path(os.environ.get(ARTIFACTS_ENV, DEFAULT_ARTIFACTS_DIR))


@st.cache_resource(show_spinner="Loading the model…")
def get_classifier(directory: str) -> Classifier:
    """Loaded once per process; what is alive then is frozen out of garbage collection.

    Streamlit runs a full collection after every script run of every
    session. Over TensorFlow's half a million objects that held the GIL for
    0.45 s each time, stalling every other session; frozen, the objects
    loaded once for good are no longer scanned.
    """
    classifier = load_classifier(directory)
    gc.collect()
    gc.freeze()
    return classifier


@st.cache_data(show_spinner=False)
def get_card(directory: str) -> ModelCard:
    return read_card(Path(directory))


def classifier() -> Classifier:
    return get_classifier(str(artifacts_dir()))


def card() -> ModelCard:
    return get_card(str(artifacts_dir()))
