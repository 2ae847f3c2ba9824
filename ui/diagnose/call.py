"""The clinician's call, drawn ahead of other sessions' explanations (ui.work_queue)."""
from __future__ import annotations

import streamlit as st

from review.triage import Assessment, by_probability
from ui.diagnose.assessment import assessments
from ui.diagnose.result import result_panel
from ui.diagnose.triage import triage_table
from ui.text import plain
from ui.work_queue import WORK


def show_the_call(files: list[tuple[str, bytes]]) -> Assessment:
    """Files in, the unreadable ones named, the chosen image's result out; stops the page while there is none."""
    with WORK.call():
        assessed = assessments(files)
        for failed in (a for a in assessed if not a.ok):
            st.error(plain(failed.error), icon="🚫")
            if failed.error_detail:
                st.caption(plain(f"What the decoder said: {failed.error_detail}"))
        ranked = by_probability(assessed)
        if not ranked:
            st.stop()

        chosen = triage_table(ranked) if len(ranked) > 1 else ranked[0]
        st.header(plain(chosen.name))
        result_panel(chosen)
    return chosen
