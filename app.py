"""Chest X-ray review: the router. Sign-in comes first (ui/access.py); the pages are listed in ui/pages.py."""
import streamlit as st

from ui import access, pages
from ui.sidebar import model_sidebar

st.set_page_config(page_title=pages.APP_TITLE, page_icon="🩻", layout="wide")

reader = access.admit()
if reader is None:
    st.stop()
navigation = st.navigation([pages.diagnose(), pages.reads(), pages.model_and_data()])
model_sidebar(reader)
access.sign_in_off_notice()
navigation.run()
