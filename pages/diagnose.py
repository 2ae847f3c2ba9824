"""Diagnose: upload chest X-rays, get the model's call with a calibrated probability, how far to trust it, and why."""
import streamlit as st

from ui.access import signed_in
from ui.diagnose.sources import chosen_files, no_files_yet
from ui.pages import DIAGNOSE_TITLE
from ui.resources import start_loading_model

reader = signed_in()
st.title(DIAGNOSE_TITLE)
files = chosen_files(reader)
# The uploader is on screen: the model loads while the reader picks a file (ui/resources.py). TensorFlow comes with
# the rest of the page, imported once there is a file, so a just-started server shows the uploader at once.
start_loading_model()
if not files:
    no_files_yet()
from ui.diagnose.page import review_files  # noqa: E402

review_files(files, reader)
