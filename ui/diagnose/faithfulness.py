"""How faithful the explanations shown are to the model: deletion and insertion curves against a random ordering."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from model.dataset import CLASS_NAMES
from model.explain.faithfulness import FaithfulnessCurves
from review.access import Reader
from review.jobs.job import faithfulness_job
from review.triage import Assessment
from ui import state
from ui.copy import FAITHFULNESS_HOW_TO_READ, LOW_SPAN_NOTE
from ui.diagnose.explanation import Explained
from ui.jobs import run_job
from ui.resources import classifier

# Okabe-Ito sky blue and orange: apart for every colour vision, and on the dark page as on a light one.
METHOD_COLOURS = {"LIME": "#56B4E9", "Grad-CAM": "#E69F00", "random": "#9D9D9D"}


def rescalable(curves: dict[str, FaithfulnessCurves]) -> bool:
    """Whether this image's curves can be rescaled; the same for every ordering (one original, one neutral)."""
    return next(iter(curves.values())).informative


def faithfulness_figure(curves: dict[str, FaithfulnessCurves], class_name: str) -> go.Figure:
    """Rescaled log-odds (neutral 0, original 1) when the image allows it, else the log-odds themselves."""
    rescale = rescalable(curves)
    figure = make_subplots(
        rows=1, cols=2, shared_yaxes=True,
        subplot_titles=("Deletion: most important first (lower area is better)",
                        "Insertion: most important first (higher area is better)"),
    )
    for method, curve in curves.items():
        pair = (curve.deletion, curve.insertion) if rescale else (curve.deletion_log_odds, curve.insertion_log_odds)
        for column, values in enumerate(pair, start=1):
            figure.add_scatter(
                x=curve.fractions, y=values, mode="lines+markers", name=method, legendgroup=method,
                showlegend=column == 1, line={"color": METHOD_COLOURS[method]}, row=1, col=column,
            )
    figure.update_xaxes(title_text="share of pixels changed", tickformat=".0%", range=[0, 1])
    title = f"evidence for {class_name} (blurred 0, original 1)" if rescale else f"log-odds of {class_name}"
    figure.update_yaxes(title_text=title, row=1, col=1)
    figure.update_layout(height=360, margin={"t": 60})
    return figure


def faithfulness_table(curves: dict[str, FaithfulnessCurves]) -> pd.DataFrame:
    """Areas under the rescaled curves (where they mean something) and the margin that ranks the orderings."""
    rescale = rescalable(curves)
    areas = pd.DataFrame({"method": list(curves)})
    if rescale:
        areas["deletion area"] = [c.deletion_area for c in curves.values()]
        areas["insertion area"] = [c.insertion_area for c in curves.values()]
    areas["insertion − deletion"] = [c.margin for c in curves.values()]
    return areas


def faithfulness_panel(assessment: Assessment, explained: Explained, reader: Reader) -> None:
    """Deletion and insertion curves of the explanations shown, measured only while the panel is open."""
    label = explained.label
    panel = st.expander(
        f"How faithful are these explanations to the model? (evidence for {CLASS_NAMES[label]})",
        key=state.FAITHFULNESS_OPEN, on_change="rerun",
    )
    if not panel.open:
        return
    with panel:
        job = faithfulness_job(assessment.digest, classifier().version, explained.explanation.settings, label)
        curves = run_job("Measuring how faithful the explanations are…", job, assessment, reader,
                         explained.both_classes)
        if curves is None:
            return
        st.plotly_chart(faithfulness_figure(curves, CLASS_NAMES[label]), key=state.FAITHFULNESS_CHART + assessment.digest)
        st.dataframe(
            faithfulness_table(curves).style.format(precision=3), hide_index=True,
            key=state.FAITHFULNESS_AREAS + assessment.digest,
        )
        st.caption(FAITHFULNESS_HOW_TO_READ)
        if not rescalable(curves):
            st.caption(LOW_SPAN_NOTE.format(name=CLASS_NAMES[label]))
