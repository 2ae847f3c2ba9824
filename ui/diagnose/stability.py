"""On request, whether the LIME regions shown survive other random seeds: a region map that moves is a rough one."""
from __future__ import annotations

import streamlit as st

from model.explain.stability import STABILITY_RERUNS
from review.access import Reader
from review.jobs.job import stability_job
from review.triage import Assessment
from ui import state
from ui.copy import UNSTABLE_CAUTION
from ui.diagnose.explanation import Explained
from ui.jobs import run_job
from ui.resources import classifier

# Below this median overlap with reruns the shown regions depend on the seed (bench/results/stability.txt).
STABLE_OVERLAP = 0.6


def stability_panel(assessment: Assessment, explained: Explained, count: int, reader: Reader) -> None:
    """Measured only when asked for (it reruns LIME); the answer stays for this view on later reruns."""
    label, settings = explained.label, explained.explanation.settings
    key = (assessment.digest, settings, label, count)
    checked = st.session_state.setdefault(state.STABILITY_CHECKED, set())
    if st.button(
        "Check stability", icon=":material/replay:", key=state.for_image(state.STABILITY_BUTTON, assessment.digest),
        help=f"Reruns LIME with {STABILITY_RERUNS} other seeds and compares the top regions with those shown.",
    ):
        checked.add(key)
    if key not in checked:
        return
    job = stability_job(assessment.digest, classifier().version, settings, label, count)
    result = run_job(f"Rerunning LIME with {STABILITY_RERUNS} other seeds…", job, assessment, reader,
                     explained.both_classes)
    if result is None:
        return
    st.info(result.sentence(), icon="🔁")
    if result.median_overlap < STABLE_OVERLAP:
        st.warning(UNSTABLE_CAUTION, icon="⚠️")
