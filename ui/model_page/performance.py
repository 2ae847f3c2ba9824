"""How well the model does on each labelled set, at the shipped threshold, with patient-bootstrap intervals."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from model.card import ModelCard
from model.evaluation.bootstrap import BOOTSTRAP_RESAMPLES, CONFIDENCE, confidence_intervals
from model.evaluation.metrics import binary_metrics, per_class_report, pr_points, roc_points
from model.evaluation.sets import EvaluationSet
from model.operating_point import calls_at
from ui import state
from ui.copy import PERFORMANCE_INTRO
from ui.model_page import charts
from ui.text import plain, plotly_plain

HEADLINE_LABELS = {"auroc": "AUROC", "accuracy": "accuracy", "sensitivity": "sensitivity",
                   "specificity": "specificity", "precision": "PPV", "npv": "NPV", "f1": "F1", "ece": "ECE"}
CONFIDENCE_TEXT = f"{CONFIDENCE * 100:.0f} %"


@st.cache_data(show_spinner=False, max_entries=64)
def headline_intervals(
    labels: np.ndarray, probabilities: np.ndarray, threshold: float, patients: list[str]
) -> dict[str, list[float]]:
    """Intervals of a set's headline metrics at a threshold, once per set and threshold: the bootstrap is slow."""
    return confidence_intervals(labels, probabilities, calls_at(probabilities, threshold), patients)


def metrics_table(metrics: dict, intervals: dict[str, list[float]]) -> pd.DataFrame:
    """Each headline metric with its patient-bootstrap interval."""
    return pd.DataFrame(
        [
            {
                "metric": label,
                "value": metrics[key],
                f"{CONFIDENCE_TEXT} CI": f"{intervals[key][0]:.3f} – {intervals[key][1]:.3f}",
            }
            for key, label in HEADLINE_LABELS.items()
        ]
    )


def performance_panel(evaluation: EvaluationSet, model_card: ModelCard, shipped: float) -> None:
    """One set's tab; scores from another model than the one loaded are marked as such."""
    labels, probabilities = evaluation.scores.labels, evaluation.scores.probabilities
    threshold = evaluation.threshold(shipped)
    metrics = binary_metrics(labels, probabilities, threshold)
    if evaluation.previous_threshold is not None:
        st.info(
            f"Scored by `{evaluation.model_version}` at its operating point (threshold {threshold:.3f}), before the "
            "current one was fitted: compare it with the tab of the same set after calibration."
        )
    elif evaluation.model_version != model_card.version:
        st.warning(
            f"These scores come from model `{evaluation.model_version}`, not the current `{model_card.version}`; "
            "run `python -m model.evaluate` again to refresh them."
        )
    intervals = headline_intervals(labels, probabilities, threshold, evaluation.patients)
    st.dataframe(metrics_table(metrics, intervals).style.format({"value": "{:.3f}"}), hide_index=True)
    st.caption(
        f"{metrics['n']} images at threshold {threshold:.3f}; PNEUMONIA is the positive class. The {CONFIDENCE_TEXT} "
        f"intervals come from {BOOTSTRAP_RESAMPLES} bootstrap resamples of patients (images of one patient are drawn "
        "together)."
    )
    st.plotly_chart(
        charts.confusion_matrix_figure(metrics["confusion_matrix"], f"Confusion matrix, {plotly_plain(evaluation.name)}"),
        key=state.CONFUSION_CHART + evaluation.name,
    )
    st.caption(
        f"Rows are the true class, columns the prediction at threshold {threshold:.3f}: counts on the left, share of "
        "each true class on the right (FN are missed pneumonias)."
    )
    report = per_class_report(labels, probabilities, threshold)
    st.dataframe(
        pd.DataFrame({k: v for k, v in report.items() if k != "accuracy"}).T.style.format(
            {"precision": "{:.3f}", "recall": "{:.3f}", "f1-score": "{:.3f}", "support": "{:.0f}"}
        )
    )
    st.caption(
        f"scikit-learn's classification report: precision, recall, F1 and support per class; accuracy "
        f"{report['accuracy']:.3f} over {metrics['n']} images."
    )
    if len(np.unique(labels)) == 2:
        st.plotly_chart(
            charts.roc_pr_figure(roc_points(labels, probabilities), pr_points(labels, probabilities), metrics),
            key=state.ROC_PR_CHART + evaluation.name,
        )
        st.caption(
            "ROC (sensitivity against false-positive rate) and precision-recall curves over every threshold; "
            f"the cross is threshold {threshold:.3f}."
        )
    else:
        st.info("ROC and precision-recall curves need images of both classes.")
    if evaluation.skipped:
        with st.expander(f"{len(evaluation.skipped)} {'file' if len(evaluation.skipped) == 1 else 'files'} skipped"):
            st.dataframe(pd.DataFrame(evaluation.skipped), hide_index=True)


def performance_section(sets: list[EvaluationSet], model_card: ModelCard, threshold: float) -> None:
    st.header("Performance")
    st.markdown(PERFORMANCE_INTRO)
    for tab, evaluation in zip(st.tabs([plain(s.name) for s in sets]), sets):
        with tab:
            performance_panel(evaluation, model_card, threshold)
