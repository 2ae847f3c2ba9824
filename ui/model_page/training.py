"""How the model was trained: the curves per epoch and which epoch's weights were kept, and why."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from model.card import ModelCard
from model.classes import counts_phrase
from ui import state
from ui.model_page import charts


def shown_hyperparameters(model_card: ModelCard) -> dict:
    """The card's hyperparameters with the selection set named by its folder, not where it was on the training machine."""
    hyper = model_card.hyperparameters
    selection = hyper["epoch_selection"]
    return {**hyper, "epoch_selection": {**selection, "data": Path(selection["data"]).name}}


def training_section(model_card: ModelCard) -> None:
    st.header("Training")
    hyper = shown_hyperparameters(model_card)
    st.plotly_chart(
        charts.training_curves_figure(model_card.history, hyper.get("best_epoch")), key=state.TRAINING_CURVES_CHART
    )
    selection = hyper["epoch_selection"]
    selection_set = selection["data"]
    st.caption(
        "Loss, accuracy (at logit 0) and AUROC after each epoch on the augmented, class-weighted training images "
        f"and on the validation images; AUROC also on the selection set `{selection_set}`, scored, never trained on."
    )
    st.markdown(
        f"{hyper['epochs_run']} of at most {hyper['epochs_max']} epochs; the weights kept are those of epoch "
        f"{hyper['best_epoch']}, {selection['rule']} (`{selection_set}`: {counts_phrase(selection['counts'])}). "
        f"Wall time {model_card.training_wall_time_seconds / 60:.1f} "
        "min on the machine that trained it."
    )
