"""Where the model goes wrong: its most confident validation errors, each one click from its explanation."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from model.evaluation.metrics import most_confident_errors
from model.evaluation.sets import EvaluationSet
from ui import pages, state
from ui.copy import ERRORS_INTRO
from ui.model_page.dataset import show_thumbnail
from ui.text import plain

ERRORS_SHOWN = 4
ERROR_KINDS = (
    ("false_negatives", "Missed pneumonias (false negatives), lowest probability first"),
    ("false_positives", "False alarms (false positives), highest probability first"),
)


def errors_section(validation: EvaluationSet, threshold: float) -> None:
    """Explain hands the image to the Diagnose page through state.REVIEW_PATH and switches to it."""
    st.header("Errors")
    if validation.image_root is None:
        st.info("The validation images are not on this machine, so the error gallery cannot be shown.")
        return
    st.markdown(ERRORS_INTRO)
    scores = validation.scores
    errors = most_confident_errors(scores.labels, scores.probabilities, threshold, ERRORS_SHOWN)
    for kind, title in ERROR_KINDS:
        st.subheader(title)
        if not len(errors[kind]):
            st.success("None in the validation split.")
            continue
        for column, index in zip(st.columns(ERRORS_SHOWN), errors[kind]):
            file = scores.files[index]
            path = validation.image_path(file)
            with column:
                if path is None:
                    st.warning(plain(f"'{file}' is not on this machine."))
                    continue
                show_thumbnail(path, f"p = {scores.probabilities[index]:.3f} · {Path(file).name}")
                if st.button("Explain", key=state.EXPLAIN_ERROR + file, icon=":material/search:"):
                    st.session_state[state.REVIEW_PATH] = str(path.resolve())
                    st.switch_page(pages.diagnose())
