"""Heavy objects loaded once per server process and shared by every session.

The network loads in a background thread from the first page of a
just-started server: importing TensorFlow and loading the model take
seconds (7 s before the uploader showed, issue 22), and the reader can pick
a file meanwhile. The import holds the GIL for much of that time, so the
thread lets the first page finish drawing first (LOAD_DELAY_SECONDS), unless
a call needs the model sooner. The first call waits for the model only if it
must.
"""
from __future__ import annotations

import gc
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from model.card import ModelCard, read_card
from model.paths import artifacts_dir

if TYPE_CHECKING:
    from model.inference import Classifier

MODEL_LOADING = "Loading the model…"
LOAD_DELAY_SECONDS = 1.0  # the first page's run and drawing took about 1 s on a just-started server (2 cores)


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
    import keras  # the loading thread imports it, never a page before it is shown

    keras.backend.clear_session = lambda *args, **kwargs: None


def _load_classifier(directory: str) -> Classifier:
    """Import TensorFlow and load the network; what is alive then is frozen out of garbage collection.

    Streamlit runs a full collection after every script run of every
    session. Over TensorFlow's half a million objects that held the GIL for
    0.45 s each time, stalling every other session; frozen, the objects
    loaded once for good are no longer scanned.
    """
    keep_keras_state_between_runs()
    from model.inference import load_classifier  # TensorFlow, in this thread only

    classifier = load_classifier(directory)
    gc.collect()
    gc.freeze()
    return classifier


@dataclass
class ModelLoading:
    """The model loading in its own thread; `needed` starts it before LOAD_DELAY_SECONDS have passed."""

    result: Future[Classifier]
    needed: threading.Event


@st.cache_resource(show_spinner=False)
def _model_loading(directory: str) -> ModelLoading:
    """The model of `directory`, loading in its own thread from the first time any page asks."""
    needed = threading.Event()

    def load() -> Classifier:
        needed.wait(LOAD_DELAY_SECONDS)
        return _load_classifier(directory)

    loader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")
    loading = ModelLoading(loader.submit(load), needed)
    loader.shutdown(wait=False)
    return loading


def start_loading_model() -> None:
    """Begin loading the model LOAD_DELAY_SECONDS from now (sooner if a call needs it), and return at once."""
    _model_loading(str(artifacts_dir()))


def classifier() -> Classifier:
    """The loaded model, waiting (with a spinner) while it is still loading; a failed load is tried again next time."""
    loading = _model_loading(str(artifacts_dir()))
    loading.needed.set()
    if not loading.result.done():
        with st.spinner(MODEL_LOADING):
            loading.result.exception()
    if loading.result.exception() is not None:
        _model_loading.clear()
    return loading.result.result()


@st.cache_data(show_spinner=False)
def get_card(directory: str) -> ModelCard:
    return read_card(Path(directory))


def card() -> ModelCard:
    return get_card(str(artifacts_dir()))
