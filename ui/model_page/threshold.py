"""The threshold explorer: how moving the threshold trades missed pneumonias against false alarms."""
from __future__ import annotations

import numpy as np
import streamlit as st

from model.evaluation.metrics import binary_metrics, threshold_sweep
from model.evaluation.sets import EvaluationSet
from ui import state
from ui.model_page import charts
from ui.model_page.evaluation_sets import choose_set
from ui.text import plain

SWEEP_THRESHOLDS = np.linspace(0.0, 1.0, 401)
RATES = (("sensitivity", "Sensitivity"), ("specificity", "Specificity"), ("precision", "PPV"), ("npv", "NPV"))


def rate_metric(label: str, value: float, shipped_value: float) -> None:
    """The rate at the chosen threshold, with its change from the shipped one when there is a change."""
    if np.isnan(value - shipped_value) or value == shipped_value:
        st.metric(label, "–" if np.isnan(value) else f"{value:.3f}")
    else:
        st.metric(label, f"{value:.3f}", f"{value - shipped_value:+.3f}", delta_description="vs shipped threshold")


def reset_threshold(shipped: float) -> None:
    st.session_state[state.EXPLORER_THRESHOLD] = shipped


@st.fragment
def threshold_explorer(sets: list[EvaluationSet], shipped: float) -> None:
    """A fragment, so moving the slider redraws only this section."""
    st.header("Threshold explorer")
    evaluation = choose_set(sets, state.EXPLORER_SET)
    st.session_state.setdefault(state.EXPLORER_THRESHOLD, shipped)
    chosen = st.slider(
        "Threshold on the calibrated probability of pneumonia", 0.0, 1.0, step=0.001, format="%.3f",
        key=state.EXPLORER_THRESHOLD,
    )
    st.button(f"Back to the shipped threshold ({shipped:.3f})", on_click=reset_threshold, args=(shipped,))
    labels, probabilities = evaluation.scores.labels, evaluation.scores.probabilities
    at_chosen = binary_metrics(labels, probabilities, chosen)
    at_shipped = binary_metrics(labels, probabilities, shipped)
    for column, (key, label) in zip(st.columns(len(RATES)), RATES):
        with column:
            rate_metric(label, at_chosen[key], at_shipped[key])
    missed, missed_shipped = at_chosen["confusion_matrix"][1][0], at_shipped["confusion_matrix"][1][0]
    if missed > missed_shipped:
        st.warning(plain(
            f"At {chosen:.3f} the model misses {missed} of {int(labels.sum())} pneumonias in '{evaluation.name}', "
            f"{missed - missed_shipped} more than at the shipped threshold {shipped:.3f}. A missed pneumonia costs "
            "more than a false alarm."
        ))
    st.plotly_chart(
        charts.confusion_matrix_figure(at_chosen["confusion_matrix"], f"Confusion matrix at threshold {chosen:.3f}"),
        key=state.THRESHOLD_CONFUSION_CHART,
    )
    st.caption(plain(f"Counts and shares of each true class in '{evaluation.name}' at the chosen threshold."))
    st.plotly_chart(
        charts.threshold_sweep_figure(threshold_sweep(labels, probabilities, SWEEP_THRESHOLDS), chosen, shipped),
        key=state.THRESHOLD_SWEEP_CHART,
    )
    st.caption(plain(
        f"Sensitivity, specificity, PPV and NPV in '{evaluation.name}' at every threshold; solid line shipped, "
        "dashed line chosen."
    ))
