"""Why: Grad-CAM at once, then LIME with its progress, and the views that compare them.

LIME's defaults are the library's (LimeSettings, SEGMENTATION_PARAMETERS), so the page shows what bench/ measured.
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from matplotlib.figure import Figure

from model.dataset import CLASS_NAMES
from model.explain.figures import draw_grad_cam_heatmap, draw_lime_heatmap, heatmap_figure, to_jpeg
from model.explain.grad_cam import GRAD_CAM_CAVEAT, grad_cam
from model.explain.lime import SEGMENTATION_PARAMETERS, LimeExplanation, LimeSettings, explain_with_lime
from model.explain.views import (
    HOW_TO_READ,
    ExplanationViews,
    display_image,
    explanation_views,
    grad_cam_heatmap,
    pros_cons_caption,
)
from model.inference import Classifier
from review.triage import Assessment
from ui import state
from ui.progress import in_line
from ui.resources import classifier

DEFAULT_OPACITY = 0.45
FEWEST_SAMPLES, MOST_SAMPLES, SAMPLES_STEP = 200, 5000, 100
DEFAULT_REGIONS_SHOWN = 5
MAX_REGIONS_SHOWN = 15
FIGURE_DPI = 120  # sharp enough for a page column; twice that doubles the encoding time of every rerun


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


@st.cache_data(show_spinner=False, max_entries=32)
def _lime(
    digest: str, settings: LimeSettings, model_version: str, _classifier: Classifier, _assessment: Assessment
) -> LimeExplanation:
    return in_line(
        f"LIME: scoring {settings.num_samples} perturbed copies of the image…",
        lambda progress: explain_with_lime(_classifier, _assessment.model_input, settings, progress),
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _picture(key: tuple, _figure: Callable[[], Figure]) -> bytes:
    """A figure encoded once per key (what it shows): reruns that change something else skip matplotlib."""
    return to_jpeg(_figure(), FIGURE_DPI)


def explanation_panel(
    assessment: Assessment, settings: LimeSettings, count: int
) -> tuple[LimeExplanation, ExplanationViews]:
    """Grad-CAM at once, then LIME with its progress, for the class the user picks (the predicted one by default).

    The call above is already on screen while LIME runs.
    """
    model = classifier()
    st.subheader("Why")
    choice, slider = st.columns(2)
    label = choice.radio(
        "Show the evidence for", (1, 0), index=0 if assessment.label == 1 else 1,
        format_func=CLASS_NAMES.__getitem__, horizontal=True, key=state.EVIDENCE_CLASS + assessment.digest,
    )
    opacity = slider.slider("Heatmap opacity", 0.0, 1.0, DEFAULT_OPACITY, 0.05, key=state.HEATMAP_OPACITY)
    shown = (assessment.digest, model.version, label, opacity)
    lime_column, cam_column = st.columns(2)
    cam = grad_cam(model.network, assessment.model_input, label)
    xray = display_image(assessment.image.pixels)
    cam_overlay, cam_norm = grad_cam_heatmap(xray, cam, opacity)
    cam_column.image(
        _picture(("Grad-CAM", *shown), lambda: heatmap_figure(draw_grad_cam_heatmap, cam_overlay, cam_norm, label)),
        width="stretch",
    )
    cam_column.caption(GRAD_CAM_CAVEAT)
    with lime_column:
        explanation = _lime(assessment.digest, settings, model.version, model, assessment)
    views = explanation_views(assessment.image.pixels, explanation, cam, label, count, opacity)
    lime_picture = _picture(
        ("LIME", *shown, settings),
        lambda: heatmap_figure(draw_lime_heatmap, views.lime_heatmap, views.lime_norm, label),
    )
    lime_column.image(lime_picture, width="stretch")
    st.markdown(f"**Agreement of LIME and Grad-CAM:** {views.agreement.sentence()}")
    st.markdown(explanation.support_sentence(label, count))
    regions, top, pros_cons = st.columns(3)
    regions.image(views.boundaries, caption=f"{explanation.region_count} LIME regions ({settings.algorithm})")
    top.image(views.top_regions, caption=f"Top {count} regions supporting {CLASS_NAMES[label]}, rest dimmed")
    pros_cons.image(views.pros_cons, caption=pros_cons_caption(count, CLASS_NAMES[label]))
    st.caption(f"{HOW_TO_READ} LIME's local linear model explains R² = {explanation.score:.2f} of the changes.")
    return explanation, views
