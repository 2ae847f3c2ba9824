"""Model & data: what the model learned from, how well it does, where it fails, and scoring new labelled data.

Everything is drawn from the artifacts training and evaluation wrote (model
card, validation scores, evaluation reports); nothing is retrained or
re-scored on load.
"""
import streamlit as st

from model.card import stored_threshold
from model.paths import artifacts_dir
from ui import model_page
from ui.access import signed_in
from ui.copy import MODEL_PAGE_INTRO
from ui.pages import MODEL_AND_DATA_TITLE
from ui.resources import card

reader = signed_in()
st.title(MODEL_AND_DATA_TITLE)
st.markdown(MODEL_PAGE_INTRO)
model_card = card()
artifacts = str(artifacts_dir())
sets = model_page.session_sets(artifacts, model_card)
shipped = stored_threshold(model_card.point.threshold)

model_page.dataset_section(model_card, sets)
model_page.training_section(model_card)
model_page.performance_section(sets, model_card, shipped)
model_page.threshold_explorer(sets, shipped)
model_page.calibration_section(sets, model_card)
model_page.errors_section(sets[0], shipped)
model_page.model_card_section(model_card, artifacts)
model_page.own_data_section([s.name for s in sets], reader)
