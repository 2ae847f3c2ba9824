"""Chest X-ray review: the router. Pages live in pages/; computation lives in model/."""
import streamlit as st

from model.calibration import fitted_on_phrase
from ui.resources import DISCLAIMER, card, classifier, keep_keras_state_between_runs

keep_keras_state_between_runs()
st.set_page_config(page_title="Chest X-ray review", page_icon="🩻", layout="wide")

navigation = st.navigation(
    [
        st.Page("pages/diagnose.py", title="Diagnose", icon="🔎", default=True),
        st.Page("pages/model_and_data.py", title="Model & data", icon="📊"),
    ]
)

with st.sidebar:
    model_card = card()
    st.markdown(f"**Model** `{model_card['version']}`")
    st.markdown(
        f"**Operating threshold** {model_card['threshold']:.3f} (sensitivity ≥ "
        f"{model_card['target_sensitivity']:.0%} on {fitted_on_phrase(model_card)})"
    )
    st.warning(DISCLAIMER, icon="⚠️")

classifier()
navigation.run()
