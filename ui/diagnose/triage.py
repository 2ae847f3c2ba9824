"""The triage table of a batch: the clinician opens the image to review, the most likely pneumonia by default."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import streamlit as st

from review.triage import Assessment, digest_of, interval_range
from ui import state


def triage_table(ranked: Sequence[Assessment]) -> Assessment:
    """The batch, most likely pneumonia first; the selected row (by default the top one) is opened.

    The table's key names the batch, so a new batch starts with its top row selected.
    """
    st.subheader("Triage")
    frame = pd.DataFrame(
        {
            "file": [a.name for a in ranked],
            "label": [a.label_name for a in ranked],
            "probability": [a.probability for a in ranked],
            "range": [interval_range(a.uncertainty) for a in ranked],
            "trust": [", ".join(a.trust_flags) for a in ranked],
            "flags": [", ".join(a.flags) for a in ranked],
        }
    )
    unreliable = [a.unreliable for a in ranked]
    batch = digest_of("".join(a.digest for a in ranked).encode())
    event = st.dataframe(
        frame.style.apply(lambda row: ["color: gray" if unreliable[row.name] else ""] * len(row), axis=1),
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key=state.for_image(state.TRIAGE_SELECTION, batch),
        column_config={
            "probability": st.column_config.ProgressColumn(
                "probability of pneumonia", min_value=0.0, max_value=1.0, format="percent"
            ),
            "range": st.column_config.TextColumn("range under small shifts"),
            "trust": st.column_config.TextColumn(
                "trust", help="Unlike training X-rays, not-radiograph, not-chest, lateral: the result is unreliable. "
                "age-outside-training: the model was not trained at this age. Uncertain: the range crosses the "
                "threshold."
            ),
        },
    )
    st.caption(
        "Select a row to review that image; the most likely pneumonia is open by default. Greyed rows are "
        "images unlike the training X-rays or, by their DICOM header, not frontal chest radiographs: their "
        "results are unreliable."
    )
    rows = event.selection.rows
    return ranked[rows[0]] if rows and rows[0] < len(ranked) else ranked[0]
