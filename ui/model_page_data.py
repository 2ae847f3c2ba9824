"""Cached loads behind the Model & data page: read once per server, not on every widget change."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from model.evaluation.bootstrap import confidence_intervals
from model.evaluation.data_summary import image_sizes, images_by_class, sample_per_class, thumbnail
from model.evaluation.metrics import predicted_labels
from model.evaluation.sets import (
    EvaluationSet,
    stored_evaluation_sets,
    unique_name,
    validation_set,
)
from ui.resources import get_classifier

SIZE_SAMPLE_PER_CLASS = 150
SAMPLE_SEED = 0
THUMBNAIL_WIDTH = 320


@st.cache_data(show_spinner="Reading the stored scores…")
def evaluation_sets(artifacts: str, card: dict) -> tuple[list[EvaluationSet], list[str]]:
    """The validation split first, then every stored evaluation report, and messages for unreadable ones."""
    sets = [validation_set(Path(artifacts), card)]
    stored, problems = stored_evaluation_sets(Path(artifacts))
    for evaluation in stored:
        evaluation.name = unique_name(evaluation.name, [s.name for s in sets])
        sets.append(evaluation)
    return sets, problems


@st.cache_data(show_spinner="Looking through the image folder…")
def sample_images(folder: str, per_class: int) -> dict[str, list[Path]]:
    return sample_per_class(images_by_class(Path(folder)), per_class, SAMPLE_SEED)


@st.cache_data(show_spinner="Measuring a sample of the source images…")
def size_sample(folder: str) -> dict[str, list[tuple[int, int]]]:
    """Sizes of a seeded sample per class; reading every header of a large dataset is not needed for a histogram."""
    sample = sample_per_class(images_by_class(Path(folder)), SIZE_SAMPLE_PER_CLASS, SAMPLE_SEED)
    return {name: image_sizes(paths) for name, paths in sample.items()}


@st.cache_data(show_spinner=False, max_entries=64)
def headline_intervals(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, patients: list[str]
) -> dict[str, list[float]]:
    """95 % patient-bootstrap intervals of a set's headline metrics at a threshold, once per set and threshold."""
    return confidence_intervals(labels, probabilities, predicted_labels(probabilities, threshold), patients)


@st.cache_data(show_spinner=False, max_entries=256)
def gallery_image(path: str) -> np.ndarray:
    return thumbnail(Path(path), THUMBNAIL_WIDTH)


@st.cache_data(show_spinner=False)
def network_summary(artifacts: str) -> str:
    """Keras' layer table of the loaded network, as plain text."""
    lines: list[str] = []
    get_classifier(artifacts).network.summary(print_fn=lambda line, line_break=True: lines.append(line))
    return "\n".join(lines)
