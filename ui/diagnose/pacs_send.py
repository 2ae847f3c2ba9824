"""Send to PACS, for an image opened from it: the SR and the Secondary Capture, then what the PACS holds."""
from __future__ import annotations

import streamlit as st

from model.errors import AuditStoreError
from review.access import Reader
from review.pacs.connection import PacsError
from review.pacs.results import SC_SERIES_NUMBER, SR_SERIES_NUMBER, ReaderRead, result_for
from review.pacs.send import send_result, source_dataset
from review.triage import Assessment, digest_of
from ui import state
from ui.audit_trail import open_trail
from ui.diagnose.explanation import Explained
from ui.diagnose.pacs import connection, settings, show_failure
from ui.resources import classifier
from ui.text import plain

UNSPECIFIED_ORGANIZATION = "Unspecified"  # the SR needs the verifying observer's organization; [pacs] organization


def _recorded_read(assessment: Assessment, reader: Reader, organization: str) -> ReaderRead | None:
    """This reader's latest recorded read of this image with this model, which verifies the SR; AuditStoreError
    when the trail cannot be read (the SR would wrongly go unverified)."""
    version = classifier().version
    trail = open_trail(reader)
    if trail.problem is not None:
        raise trail.problem
    own = [entry for entry in trail.entries if entry.image_sha256 == assessment.digest
           and entry.model_version == version and (entry.reader_subject, entry.reader_issuer)
           == (reader.subject, reader.issuer)]
    if not own:
        return None
    latest = own[-1]
    return ReaderRead(latest.reader_name or reader.label, latest.clinician_read, latest.note, latest.recorded_at,
                      organization or UNSPECIFIED_ORGANIZATION)


def send_panel(assessment: Assessment, explained: Explained, reader: Reader) -> None:
    """Send to PACS, for an image opened from it: the SR (verified when this reader's read is recorded) and the
    Secondary Capture, then what the PACS holds afterwards."""
    opened = st.session_state.get(state.PACS_OPEN)
    if opened is None or digest_of(opened[1]) != assessment.digest:
        return
    site = settings()
    try:
        read = _recorded_read(assessment, reader, site.organization)
    except AuditStoreError as problem:
        st.warning(plain(f"Send to PACS waits for the audit trail, which says whether your read verifies the "
                         f"report: {problem}"), icon="⚠️")
        return
    verified = "verified by your recorded read" if read else "unverified: no read of yours is recorded yet"
    if not st.button("Send to PACS", icon=":material/send:", key=state.for_image(state.PACS_SEND, assessment.digest),
                     help=f"Stores a structured report ({verified}) and an image with the explanation in this "
                     "study, as new series."):
        return
    result = result_for(assessment, classifier().version, read)
    try:
        with st.spinner("Sending the result to the PACS…"):
            sent = send_result(connection(site), source_dataset(opened[1]), result, explained.views.pros_cons)
    except PacsError as error:
        show_failure(error, reader)
        return
    again = " It held this result already: nothing new was stored." if sent.already_held else ""
    st.success(f"The PACS holds the result in this study: the structured report ({verified}, series "
               f"{SR_SERIES_NUMBER}) and the image with the explanation (series {SC_SERIES_NUMBER}).{again}",
               icon="✅")
