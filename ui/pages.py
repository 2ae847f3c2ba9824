"""The app's pages, defined once: the router lists them, and a page that sends the user to another uses them."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

APP_TITLE = "Chest X-ray review"
# Relative to app.py, as st.Page and AppTest.switch_page take them.
DIAGNOSE_PATH = "pages/diagnose.py"
MODEL_AND_DATA_PATH = "pages/model_and_data.py"
READS_PATH = "pages/reads.py"
# The address of each page but the default: st.Page names it after the file.
URL_PATHS = tuple(Path(path).stem for path in (MODEL_AND_DATA_PATH, READS_PATH))
DIAGNOSE_TITLE = "Diagnose"
MODEL_AND_DATA_TITLE = "Model & data"
READS_TITLE = "Reads"


def diagnose() -> st.Page:
    """Built on every run: st.Page finds its file through the running script's context."""
    return st.Page(DIAGNOSE_PATH, title=DIAGNOSE_TITLE, icon=":material/search:", default=True)


def model_and_data() -> st.Page:
    return st.Page(MODEL_AND_DATA_PATH, title=MODEL_AND_DATA_TITLE, icon=":material/monitoring:")


def reads() -> st.Page:
    return st.Page(READS_PATH, title=READS_TITLE, icon=":material/fact_check:")
