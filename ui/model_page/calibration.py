"""Whether a probability means what it says, before and after temperature scaling, on any labelled set."""
from __future__ import annotations

import streamlit as st

from model.card import ModelCard
from model.evaluation.metrics import RELIABILITY_BINS, reliability
from model.evaluation.sets import EvaluationSet
from model.operating_point import calibrated_probability
from ui import state
from ui.model_page import charts
from ui.model_page.evaluation_sets import choose_set


def calibration_section(sets: list[EvaluationSet], model_card: ModelCard) -> None:
    """Opens on the set the temperature was fitted on, where the 'after' curve is in-sample."""
    st.header("Calibration")
    fitted_on = model_card.provenance.fitted_on.name
    names = [s.name for s in sets]
    st.session_state.setdefault(state.CALIBRATION_SET, fitted_on if fitted_on in names else names[0])
    evaluation = choose_set(sets, state.CALIBRATION_SET)
    temperature = model_card.point.temperature
    labels, logits = evaluation.scores.labels, evaluation.scores.logits
    before = reliability(labels, calibrated_probability(logits, 1.0))
    after = reliability(labels, calibrated_probability(logits, temperature))
    left, right = st.columns(2)
    left.metric("ECE before temperature scaling", f"{before['ece']:.4f}")
    right.metric("ECE after temperature scaling", f"{after['ece']:.4f}", f"{after['ece'] - before['ece']:+.4f}",
                 delta_color="inverse")
    st.plotly_chart(charts.reliability_figure(before, after, temperature), key=state.RELIABILITY_CHART)
    st.caption(
        f"Per probability bin of width {1 / RELIABILITY_BINS:g}: mean predicted probability against the share that "
        "truly had pneumonia; on the dotted diagonal a probability means what it says."
    )
    st.markdown(
        f"The temperature T = {temperature:.3f} was fitted on {model_card.fitted_on_phrase()} by minimising "
        f"log-loss, so on `{fitted_on}` the 'after' curve is in-sample; other sets show how well it carries over."
    )
