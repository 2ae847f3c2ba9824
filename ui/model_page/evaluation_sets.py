"""The labelled sets every panel of the page chooses from: validation, the stored evaluations, this session's own."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from model.card import ModelCard
from model.evaluation.sets import (
    EvaluationSet,
    report_set,
    stored_evaluation_sets,
    unique_name,
    validation_set,
)
from ui import state
from ui.text import plain


@st.cache_data(show_spinner="Reading the stored scores…")
def stored_sets(artifacts: str, card: ModelCard) -> tuple[list[EvaluationSet], list[str]]:
    """The validation split first, then every stored evaluation report, and messages for unreadable ones.

    Read once per server: the reports change only when model.evaluate runs again.
    """
    sets = [validation_set(Path(artifacts), card)]
    stored, problems = stored_evaluation_sets(Path(artifacts))
    for evaluation in stored:
        evaluation.name = unique_name(evaluation.name, [s.name for s in sets])
        sets.append(evaluation)
    return sets, problems


def session_sets(artifacts: str, model_card: ModelCard) -> list[EvaluationSet]:
    """The stored sets, then those scored in this session; a warning for each stored report that could not be read."""
    sets, problems = stored_sets(artifacts, model_card)
    sets = sets + [report_set(report) for report in st.session_state.get(state.OWN_EVALUATIONS, [])]
    for problem in problems:
        st.warning(plain(problem))
    return sets


def choose_set(sets: list[EvaluationSet], key: str) -> EvaluationSet:
    names = [s.name for s in sets]
    return sets[names.index(st.selectbox("Evaluation set", names, key=key))]
