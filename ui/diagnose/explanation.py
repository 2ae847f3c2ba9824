"""Why: LIME with its progress, then the viewer with LIME's regions and Grad-CAM as layers, and how they agree.

LIME's defaults are the library's (LimeSettings, SEGMENTATION_PARAMETERS), so the page shows what bench/ measured.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from model.dataset import CLASS_NAMES
from model.explain.grad_cam import GRAD_CAM_CAVEAT
from model.explain.lime import SEGMENTATION_PARAMETERS, LimeExplanation, LimeSettings
from model.explain.views import (
    DEFAULT_REGIONS_SHOWN,
    HOW_TO_READ,
    ExplanationViews,
    explanation_views,
    pros_cons_caption,
)
from review.access import Reader
from review.jobs.job import explanation_job
from review.jobs.kinds import Explanation
from review.triage import Assessment
from review.viewer import DEFAULT_OPACITY, explanation_layers
from ui import state
from ui.diagnose.viewer import viewer_panel
from ui.jobs import run_job
from ui.resources import classifier

FEWEST_SAMPLES, MOST_SAMPLES, SAMPLES_STEP = 200, 5000, 100
MAX_REGIONS_SHOWN = 15


def explanation_settings() -> tuple[LimeSettings, int]:
    """LIME's settings and how many regions to show; changing only the latter never reruns LIME."""
    defaults = LimeSettings()
    with st.expander("Explanation settings"):
        algorithms = list(SEGMENTATION_PARAMETERS)
        algorithm = st.selectbox(
            "Segmentation algorithm", algorithms, index=algorithms.index(defaults.algorithm), key=state.LIME_ALGORITHM
        )
        knob = SEGMENTATION_PARAMETERS[algorithm]
        parameter = st.slider(
            knob.name.capitalize(), knob.minimum, knob.maximum, knob.default, knob.step, help=knob.help,
            key=state.lime_parameter(algorithm),
        )
        samples = st.slider(
            "Perturbation samples", FEWEST_SAMPLES, MOST_SAMPLES, defaults.num_samples, SAMPLES_STEP,
            help="More samples give a steadier explanation and take longer.", key=state.LIME_SAMPLES,
        )
        count = st.slider("Regions shown", 1, MAX_REGIONS_SHOWN, DEFAULT_REGIONS_SHOWN, key=state.LIME_REGIONS)
        seed = st.number_input(
            "Random seed", 0, 2**31 - 1, defaults.seed, help="The same seed gives the same explanation.",
            key=state.LIME_SEED,
        )
    return LimeSettings(algorithm, int(parameter), int(samples), int(seed)), int(count)


@dataclass(frozen=True)
class Explained:
    """One image's explanation, for both classes, and its pictures for the class shown: what the stability,
    faithfulness, PDF and PACS panels need."""

    both_classes: Explanation
    views: ExplanationViews

    @property
    def label(self) -> int:
        return self.views.label

    @property
    def explanation(self) -> LimeExplanation:
        return self.both_classes.lime

    @property
    def cam(self) -> np.ndarray:
        return self.both_classes.cams[self.label]


def explanation_panel(assessment: Assessment, settings: LimeSettings, count: int, reader: Reader) -> Explained:
    """LIME with its progress (the call above is already on screen), then the viewer and how to read it.

    The evidence shown is for the class the user picks, the predicted one by default. Where the explanation
    cannot be had (the queue's store down, its worker gone), the page says so with a button to try again and
    ends here: the call and the read above stay.
    """
    version = classifier().version
    st.subheader("Why")
    label = st.radio(
        "Show the evidence for", (1, 0), index=0 if assessment.label == 1 else 1,
        format_func=CLASS_NAMES.__getitem__, horizontal=True, key=state.EVIDENCE_CLASS + assessment.digest,
    )
    job = explanation_job(assessment.digest, version, settings)
    both_classes = run_job(f"LIME: scoring {settings.num_samples} perturbed copies of the image…", job, assessment,
                           reader)
    if both_classes is None:
        st.stop()
    explanation, cam = both_classes.lime, both_classes.cams[label]
    viewer_panel(assessment, explanation_layers(explanation, cam, label, count))
    st.caption(GRAD_CAM_CAVEAT)
    views = explanation_views(assessment.image.pixels, explanation, cam, label, count, DEFAULT_OPACITY)
    st.markdown(f"**Agreement of LIME and Grad-CAM:** {views.agreement.sentence()}")
    st.markdown(explanation.support_sentence(label, count))
    with st.expander("LIME's regions as pictures (as in the PDF)"):
        regions, top, pros_cons = st.columns(3)
        regions.image(views.boundaries, caption=f"{explanation.region_count} LIME regions ({settings.algorithm})")
        top.image(views.top_regions, caption=f"Top {count} regions supporting {CLASS_NAMES[label]}, rest dimmed")
        pros_cons.image(views.pros_cons, caption=pros_cons_caption(count, CLASS_NAMES[label]))
    st.caption(f"{HOW_TO_READ} LIME's local linear model explains R² = {explanation.score:.2f} of the changes.")
    return Explained(both_classes, views)
