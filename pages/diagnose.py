"""Diagnose: upload chest X-rays, get the model's call with a calibrated probability, how far to trust it, and why."""
import streamlit as st

from ui import diagnose
from ui.access import signed_in
from ui.pages import DIAGNOSE_TITLE

reader = signed_in()
st.title(DIAGNOSE_TITLE)
chosen = diagnose.show_the_call()
diagnose.metadata_panel(chosen)
diagnose.audit_panel(chosen, reader)
settings, count = diagnose.explanation_settings()
explanation, views = diagnose.explanation_panel(chosen, settings, count)
diagnose.stability_panel(chosen, explanation, views.label, count)
diagnose.faithfulness_panel(chosen, explanation, views.label)
diagnose.report_button(chosen, explanation, views, reader)
