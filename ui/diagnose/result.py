"""The call on one image with its trust signals; an image unlike the training X-rays gets its result greyed."""
from __future__ import annotations

import streamlit as st

from review.triage import (
    NEAR_THRESHOLD_CAUTION,
    OOD_WARNING,
    UNRELIABLE_CAPTION,
    Assessment,
    certainty_sentence,
    interval_text,
    is_near_threshold,
    uncertainty_caution,
)
from ui.diagnose.assessment import ood_detector
from ui.text import plain


def _greyed(text: str, grey: bool) -> str:
    return f":gray[{text}]" if grey else text


def result_panel(assessment: Assessment) -> None:
    """Why not to rely on the result comes first, then the result, then the cautions that qualify it."""
    unreliable, spread = assessment.unreliable, assessment.uncertainty
    if assessment.ood is not None and assessment.ood.flagged:
        reasons = "\n".join(f"- {reason}" for reason in assessment.ood.reasons)
        st.error(f"**Image unlike the training X-rays.** {OOD_WARNING}\n\n{reasons}", icon="🚫")
    for flag in assessment.view_flags:
        if flag.unreliable:
            st.error(f"**Do not rely on this result.** {plain(flag.reason)}", icon="🚫")
        else:
            st.warning(plain(flag.reason), icon="⚠️")
    label, probability, threshold = st.columns(3)
    label.metric("Result", _greyed(assessment.label_name, unreliable))
    probability.metric(
        "Probability of pneumonia",
        _greyed(f"{assessment.probability:.1%}", unreliable),
        delta=interval_text(spread),
        delta_color="orange" if spread.straddles_threshold else "off",
        delta_arrow="off",
        help="The range is the lowest to highest probability over slightly cropped, shifted and re-exposed "
        "copies of the image.",
    )
    threshold.metric("Operating threshold", f"{assessment.threshold:.1%}")
    if unreliable:
        st.caption(UNRELIABLE_CAPTION)
    st.markdown(_greyed(certainty_sentence(assessment.probability, assessment.threshold), unreliable))
    if spread.straddles_threshold:
        st.warning(uncertainty_caution(spread), icon="⚠️")
    if is_near_threshold(assessment.probability, assessment.threshold):
        st.warning(NEAR_THRESHOLD_CAUTION, icon="⚠️")
    for note in assessment.image.notes:
        st.info(plain(note), icon="ℹ️")
    _, unavailable = ood_detector()
    if unavailable:
        st.info(unavailable, icon="ℹ️")
