"""The PDF report of the image shown, with its call, explanations and the disclaimer."""
from __future__ import annotations

import streamlit as st

from model.explain.lime import LimeExplanation
from model.explain.views import ExplanationViews
from review.access import Reader
from review.report import build_report, report_file_name
from review.triage import Assessment
from ui.copy import DISCLAIMER
from ui.resources import classifier


def report_button(
    assessment: Assessment, explanation: LimeExplanation, views: ExplanationViews, reader: Reader
) -> None:
    """The PDF is drawn only when asked for, so reruns stay fast; it names the reader who downloads it."""
    version = classifier().version
    st.download_button(
        "Download PDF report",
        data=lambda: build_report(assessment, explanation, views, version, DISCLAIMER, reader),
        file_name=report_file_name(assessment.name),
        mime="application/pdf",
        on_click="ignore",
        icon=":material/download:",
    )
