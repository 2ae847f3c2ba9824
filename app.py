"""Chest X-ray review: the router. The pages are listed in ui/pages.py; their panels live in ui/."""
import streamlit as st

from ui import pages
from ui.resources import classifier, keep_keras_state_between_runs
from ui.sidebar import model_sidebar

keep_keras_state_between_runs()
st.set_page_config(page_title="Chest X-ray review", page_icon="🩻", layout="wide")

navigation = st.navigation([pages.diagnose(), pages.model_and_data()])
model_sidebar()
classifier()
navigation.run()
