"""A DICOM's header in brief, with the patient's identifiers masked unless the clinician asks to see them."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from review.triage import Assessment
from ui import state

MASK = "••••••"


def metadata_panel(assessment: Assessment) -> None:
    """Nothing for JPEG and PNG; identifiers stay off the screen unless shown here."""
    metadata = assessment.image.metadata
    if metadata is None:
        return
    with st.expander("DICOM header"):
        fields = {name: value for name, value in metadata.shown_fields().items() if value}
        st.dataframe(
            pd.DataFrame({"field": list(fields), "value": list(fields.values())}), hide_index=True,
            key=state.for_image(state.DICOM_FIELDS, assessment.digest),
        )
        shown = st.toggle(
            "Show patient identifiers", key=state.for_image(state.IDENTIFIERS_SHOWN, assessment.digest),
            help="Name, ID and birth date stay off the screen, the PDF and the audit trail unless shown here.",
        )
        identifiers = metadata.identifiers()
        values = list(identifiers.values()) if shown else [MASK if value else "" for value in identifiers.values()]
        st.dataframe(
            pd.DataFrame({"identifier": list(identifiers), "value": values}), hide_index=True,
            key=f"{state.for_image(state.DICOM_IDENTIFIERS, assessment.digest)}_{shown}",
        )
