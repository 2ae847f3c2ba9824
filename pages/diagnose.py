"""Diagnose: upload chest X-rays, get the model's call with a calibrated probability, how far to trust it, and why."""
import streamlit as st

from review.triage import by_probability
from ui import diagnose
from ui.text import plain
from ui.work_queue import WORK

st.title("Diagnose")
# Everything up to the call goes ahead of other sessions' explanations (ui.work_queue).
with WORK.call():
    files = diagnose.chosen_files()
    if not files:
        st.info("Upload one or more chest X-rays, or try a sample, to get the model's call and its explanation.")
        st.stop()

    assessments = diagnose.assessments(files)
    for failed in (a for a in assessments if not a.ok):
        st.error(plain(failed.error), icon="🚫")
    ranked = by_probability(assessments)
    if not ranked:
        st.stop()

    chosen = diagnose.triage_table(ranked) if len(ranked) > 1 else ranked[0]
    st.header(plain(chosen.name))
    diagnose.result_panel(chosen)
diagnose.metadata_panel(chosen)
diagnose.audit_panel(chosen)
settings, count = diagnose.explanation_settings()
explanation, views = diagnose.explanation_panel(chosen, settings, count)
diagnose.stability_panel(chosen, explanation, views.label, count)
diagnose.faithfulness_panel(chosen, explanation, views.label)
diagnose.report_button(chosen, explanation, views)
