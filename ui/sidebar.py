"""Beside every page: who is signed in, which model is answering, at what operating point, and that it is no diagnosis."""
from __future__ import annotations

import streamlit as st

from review.access import Reader
from ui.access import identity_sidebar
from ui.copy import DISCLAIMER
from ui.resources import card


def model_sidebar(reader: Reader) -> None:
    with st.sidebar:
        identity_sidebar(reader)
        model_card = card()
        st.markdown(f"**Model** `{model_card.version}`")
        st.markdown(
            f"**Operating threshold** {model_card.point.threshold:.3f} (sensitivity ≥ "
            f"{model_card.point.target_sensitivity:.0%} on {model_card.fitted_on_phrase()})"
        )
        st.warning(DISCLAIMER, icon="⚠️")
