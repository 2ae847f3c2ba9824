"""The PDF report of the image shown, with its call, explanations in the reader's window, and the disclaimer."""
from __future__ import annotations

import streamlit as st

from model.explain.views import explanation_views
from review.access import Reader
from review.report import build_report, report_file_name
from review.triage import Assessment
from review.viewer import DEFAULT_OPACITY, windowed
from ui.copy import DISCLAIMER
from ui.diagnose.explanation import Explained
from ui.diagnose.viewer import viewer_choice
from ui.resources import classifier


def report_button(assessment: Assessment, explained: Explained, reader: Reader) -> None:
    """The PDF is drawn only when asked for, so reruns stay fast; it names the reader who downloads it.

    It is drawn outside any script run, so it reads the reader's window and invert from the object the viewer
    changes, not from the session state. Layers print at the default opacity: the reader's opacity and layer
    switches live in their browser.
    """
    version = classifier().version
    choice = viewer_choice(assessment.digest)
    grey = assessment.image.grey_levels

    def report() -> bytes:
        views = explanation_views(
            windowed(grey, choice), explained.explanation, explained.cam, explained.label,
            explained.views.regions_shown, DEFAULT_OPACITY,
        )
        return build_report(
            assessment, explained.explanation, views, version, DISCLAIMER, reader, choice.describe(grey)
        )

    st.download_button(
        "Download PDF report",
        data=report,
        file_name=report_file_name(assessment.name),
        mime="application/pdf",
        on_click="ignore",
        icon=":material/download:",
    )
