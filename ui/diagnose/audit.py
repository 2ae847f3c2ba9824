"""The clinician's own read, stored with what the model said and who read it; the store's errors are shown, never raised."""
from __future__ import annotations

import streamlit as st

from model.errors import AuditStoreError
from review.access import Reader
from review.audit import MAX_NOTE_CHARS, READS, AuditStore, note_problem
from review.triage import UNRELIABLE_CAPTION, Assessment
from ui import pages, state
from ui.audit_trail import count_phrase, export_button, open_trail, reads_table, show_state, show_trail_problem
from ui.resources import classifier
from ui.text import plain

RECENT_READS = 10
# How each outcome of Save is shown: (Streamlit's call, icon).
OUTCOME_STYLES = {"success": (st.success, "✅"), "warning": (st.warning, "⚠️")}


def _save_read(assessment: Assessment, version: str, reader: Reader) -> None:
    """Save's on_click: it runs before the page is drawn again, so only a stored read empties the form.

    A refused read keeps its note in the form, to be shortened or saved again; the outcome is shown below it.
    """
    read_key = state.for_image(state.AUDIT_READ, assessment.digest)
    note_key = state.for_image(state.AUDIT_NOTE, assessment.digest)
    read, note = st.session_state[read_key], st.session_state[note_key].strip()
    if read is None:
        outcome = ("warning", "Choose agree, disagree or unsure before saving.", "")
    elif problem := note_problem(note):
        outcome = ("error", problem, "")
    else:
        try:
            saved = AuditStore().record(
                reader=reader, image_sha256=assessment.digest, file_name=assessment.name, model_version=version,
                probability=assessment.probability, threshold=assessment.threshold,
                model_label=assessment.label_name, clinician_read=read, note=note,
            )
        except AuditStoreError as error:
            outcome = ("error", f"Audit trail: {error}", error.detail)
        else:
            outcome = ("success", f"Saved to the audit trail at {saved.recorded_at} ({read}).", "")
            st.session_state[read_key], st.session_state[note_key] = None, ""
    st.session_state[state.for_image(state.AUDIT_OUTCOME, assessment.digest)] = outcome


def audit_panel(assessment: Assessment, reader: Reader) -> None:
    """The read form, what Save did, and the latest reads this person may see (all of them on the Reads page).

    A trail that cannot take a read (read-only, locked, damaged, down) gets Save disabled and the reason beside it.
    """
    trail = open_trail(reader)
    with st.form(state.for_image(state.AUDIT_FORM, assessment.digest), border=True):
        unreliable = f" — {UNRELIABLE_CAPTION}" if assessment.unreliable else ""
        st.markdown(
            f"**Your read** — the model says {assessment.label_name} ({assessment.probability:.1%}){unreliable}"
        )
        st.radio(
            "Do you agree with the model?", READS, index=None, format_func=str.capitalize,
            horizontal=True, key=state.for_image(state.AUDIT_READ, assessment.digest),
        )
        # No max_chars: the browser would drop a longer paste whole; the limit is checked on Save instead.
        st.text_area(
            "Note (optional)", key=state.for_image(state.AUDIT_NOTE, assessment.digest), height=68,
            help=f"Up to {MAX_NOTE_CHARS:,} characters.",
        )
        st.form_submit_button(
            "Save to the audit trail", icon=":material/save:", disabled=trail.cannot_save,
            on_click=_save_read, args=(assessment, classifier().version, reader),
        )
    if outcome := st.session_state.pop(state.for_image(state.AUDIT_OUTCOME, assessment.digest), None):
        kind, text, detail = outcome
        if kind == "error":
            show_trail_problem(text, detail, reader)
        else:
            show, icon = OUTCOME_STYLES[kind]
            show(plain(text), icon=icon)
    if not show_state(trail, reader):
        if trail.problem is None:
            st.caption("No reads recorded yet.")
        return
    with st.expander(count_phrase(trail.entries, reader)):
        if trail.entries:
            reads_table(trail.entries[-RECENT_READS:], reader, state.AUDIT_RECENT)
        export_button(trail.entries, reader)
        st.page_link(pages.reads(), label="Every read, on the Reads page")
