"""On request, whether the LIME regions shown survive other random seeds: a region map that moves is a rough one."""
from __future__ import annotations

import streamlit as st

from model.explain.lime import LimeExplanation, LimeSettings
from model.explain.stability import STABILITY_RERUNS, Stability, stability
from model.inference import Classifier
from review.triage import Assessment
from ui import state
from ui.copy import UNSTABLE_CAUTION
from ui.progress import in_line
from ui.resources import classifier

# Below this median overlap with reruns the shown regions depend on the seed (bench/results/stability.txt).
STABLE_OVERLAP = 0.6


@st.cache_data(show_spinner=False, max_entries=32)
def _stability(
    digest: str, settings: LimeSettings, label: int, count: int, model_version: str, _classifier: Classifier,
    _assessment: Assessment, _explanation: LimeExplanation,
) -> Stability:
    return in_line(
        f"Rerunning LIME with {STABILITY_RERUNS} other seeds…",
        lambda progress: stability(
            _classifier, _assessment.model_input, _explanation, label, count, STABILITY_RERUNS, progress
        ),
    )


def stability_panel(assessment: Assessment, explanation: LimeExplanation, label: int, count: int) -> None:
    """Measured only when asked for (it reruns LIME); the answer stays for this view on later reruns."""
    model = classifier()
    key = (assessment.digest, explanation.settings, label, count)
    checked = st.session_state.setdefault(state.STABILITY_CHECKED, set())
    if st.button(
        "Check stability", icon=":material/replay:", key=state.for_image(state.STABILITY_BUTTON, assessment.digest),
        help=f"Reruns LIME with {STABILITY_RERUNS} other seeds and compares the top regions with those shown.",
    ):
        checked.add(key)
    if key not in checked:
        return
    result = _stability(
        assessment.digest, explanation.settings, label, count, model.version, model, assessment, explanation
    )
    st.info(result.sentence(), icon="🔁")
    if result.median_overlap < STABLE_OVERLAP:
        st.warning(UNSTABLE_CAUTION, icon="⚠️")
