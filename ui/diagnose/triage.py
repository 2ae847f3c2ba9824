"""The triage table of a batch: the clinician opens the image to review, the most likely pneumonia by default."""
from __future__ import annotations

import functools
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from review.triage import Assessment, digest_of, interval_range
from ui import state
from ui.shortcuts import NEXT_IMAGE, PREVIOUS_IMAGE


def _open_selected(table_key: str, open_key: str) -> None:
    rows = st.session_state[table_key].selection.rows
    if rows:
        st.session_state[open_key] = rows[0]


def _step(open_key: str, step: int, count: int) -> None:
    st.session_state[open_key] = min(count - 1, max(0, st.session_state.get(open_key, 0) + step))


def triage_table(ranked: Sequence[Assessment]) -> Assessment:
    """The batch, most likely pneumonia first; the row selected or stepped to (by default the top one) is opened.

    The keys name the batch, so a new batch starts with its top row open.
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
    table_key, open_key = (state.for_image(prefix, batch) for prefix in (state.TRIAGE_SELECTION, state.TRIAGE_OPEN))
    st.dataframe(
        frame.style.apply(lambda row: ["color: gray" if unreliable[row.name] else ""] * len(row), axis=1),
        hide_index=True,
        on_select=functools.partial(_open_selected, table_key, open_key),
        selection_mode="single-row",
        key=table_key,
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
        f"Select a row, or step with the keys {PREVIOUS_IMAGE} and {NEXT_IMAGE}, to review an image; the most likely "
        "pneumonia is open by default. Greyed rows are images unlike the training X-rays or, by their DICOM header, "
        "not frontal chest radiographs: their results are unreliable."
    )
    opened = min(st.session_state.get(open_key, 0), len(ranked) - 1)
    where, previous, following = st.columns([4, 1, 1], vertical_alignment="center")
    where.markdown(f"Image {opened + 1} of {len(ranked)}")
    previous.button("Previous", icon=":material/arrow_back:", shortcut=PREVIOUS_IMAGE, disabled=opened == 0,
                    on_click=_step, args=(open_key, -1, len(ranked)), key=state.TRIAGE_PREVIOUS, width="stretch")
    following.button("Next", icon=":material/arrow_forward:", shortcut=NEXT_IMAGE,
                     disabled=opened == len(ranked) - 1, on_click=_step, args=(open_key, 1, len(ranked)),
                     key=state.TRIAGE_NEXT, width="stretch")
    return ranked[opened]
