"""What the model learned from: images per class and split, their sizes, and a few of them to look at.

The folder is read once per server (a seeded sample, thumbnails), not on every widget change.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from model.card import ModelCard
from model.errors import ImageInputError
from model.evaluation import data_summary
from model.evaluation.sets import EvaluationSet
from model.paths import SAMPLES_DIR
from ui import state
from ui.model_page import charts
from ui.text import plain

SAMPLES_PER_CLASS = 4
SIZE_SAMPLE_PER_CLASS = 150
SAMPLE_SEED = 0
THUMBNAIL_WIDTH = 320


@st.cache_data(show_spinner="Looking through the image folder…")
def sample_images(folder: str, per_class: int) -> dict[str, list[Path]]:
    return data_summary.sample_per_class(data_summary.images_by_class(Path(folder)), per_class, SAMPLE_SEED)


@st.cache_data(show_spinner="Measuring a sample of the source images…")
def size_sample(folder: str) -> dict[str, list[tuple[int, int]]]:
    """Sizes of a seeded sample per class; reading every header of a large dataset is not needed for a histogram."""
    sample = data_summary.sample_per_class(data_summary.images_by_class(Path(folder)), SIZE_SAMPLE_PER_CLASS, SAMPLE_SEED)
    return {name: data_summary.image_sizes(paths) for name, paths in sample.items()}


@st.cache_data(show_spinner=False, max_entries=256)
def gallery_image(path: str) -> np.ndarray:
    return data_summary.thumbnail(Path(path), THUMBNAIL_WIDTH)


def show_thumbnail(path: Path, caption: str) -> None:
    """An image that cannot be read gets a warning in its place, not an exception."""
    try:
        st.image(gallery_image(str(path)), caption=caption)
    except ImageInputError as error:
        st.warning(plain(str(error)))


def class_balance(model_card: ModelCard, sets: list[EvaluationSet]) -> None:
    data = model_card.data
    counts = {"training": data["train"]["counts"], "validation": data["validation"]["counts"]}
    counts |= {f"evaluation: {s.name}": data_summary.label_counts(s.scores.labels) for s in sets[1:]}
    st.plotly_chart(charts.class_distribution_figure(counts), key=state.CLASS_DISTRIBUTION_CHART)
    st.caption(
        "Images of each class per split — training and validation as used to fit the model, then every "
        "evaluation set — with each bar's count and share of its split."
    )
    train = data["train"]["counts"]
    larger = max(train, key=train.get)
    smaller = min(train, key=train.get)
    weights = ", ".join(f"{k} {v:.2f}" for k, v in model_card.hyperparameters["class_weights"].items())
    balance = (
        "Training is balanced" if train[larger] == train[smaller]
        else f"Training holds **{data_summary.imbalance_ratio(train):.2f} {larger} images per {smaller} image**"
    )
    st.markdown(
        f"{balance}; the loss weights the classes ({weights}) so both count equally. "
        f"Validation: {data['validation_source']}."
    )


def image_size_section(model_card: ModelCard, root: Path | None) -> None:
    """A measured sample when the dataset is on this machine; the card's summary always."""
    data = model_card.data
    st.subheader("Image size and aspect")
    if root is None:
        st.info("The training images are not on this server; only the recorded summary is shown.")
    else:
        st.plotly_chart(charts.image_size_figure(size_sample(str(root))), key=state.IMAGE_SIZES_CHART)
        st.caption(
            "Width against height and the aspect-ratio histogram of a seeded random sample of the training images "
            "per class."
        )
    summary = {
        (split, measure): values
        for split in ("train", "validation")
        for measure, values in data[split]["image_size"].items()
    }
    st.dataframe(pd.DataFrame(summary).T.rename_axis(["split", "measure"]))
    st.caption(
        "Smallest, median and largest size of every image used in training and validation (model card). "
        f"The network sees each one squashed to {model_card.preprocessing['resize']}."
    )


def sample_gallery(root: Path | None) -> None:
    """A few images per class from the dataset, or from the bundled samples when the dataset is elsewhere."""
    st.subheader("Sample images")
    folder = root
    if folder is None:
        folder = SAMPLES_DIR
        st.info("Showing the example images bundled in `assets/samples` instead of the dataset.")
    samples = sample_images(str(folder), SAMPLES_PER_CLASS) if folder.is_dir() else {}
    if not any(samples.values()):
        st.info("No sample images are available on this machine.")
    for name, paths in samples.items():
        if not paths:
            continue
        st.markdown(f"**{plain(name)}**")
        for column, path in zip(st.columns(SAMPLES_PER_CLASS), paths):
            with column:
                show_thumbnail(path, path.name)


def dataset_section(model_card: ModelCard, sets: list[EvaluationSet]) -> None:
    st.header("Dataset")
    class_balance(model_card, sets)
    root = data_summary.existing_folder(model_card.data["root"])
    image_size_section(model_card, root)
    sample_gallery(root)
