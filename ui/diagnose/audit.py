"""The clinician's own read, stored with what the model said; the store's errors are shown, never raised."""
from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from model.errors import AuditStoreError
from review.audit import AUDIT_DB_ENV, MAX_NOTE_CHARS, READS, AuditStore, default_audit_path, note_problem
from review.triage import UNRELIABLE_CAPTION, Assessment
from ui import state
from ui.resources import classifier
from ui.text import plain

RECENT_READS = 10
# How each outcome of Save is shown: (Streamlit's call, icon).
OUTCOME_STYLES = {"success": (st.success, "✅"), "warning": (st.warning, "⚠️"), "error": (st.error, "🚫")}


def _save_read(assessment: Assessment, version: str) -> None:
    """Save's on_click: it runs before the page is drawn again, so only a stored read empties the form.

    A refused read keeps its note in the form, to be shortened or saved again; the outcome is shown below it.
    """
    read_key = state.for_image(state.AUDIT_READ, assessment.digest)
    note_key = state.for_image(state.AUDIT_NOTE, assessment.digest)
    read, note = st.session_state[read_key], st.session_state[note_key].strip()
    if read is None:
        outcome = ("warning", "Choose agree, disagree or unsure before saving.")
    elif problem := note_problem(note):
        outcome = ("error", problem)
    else:
        try:
            saved = AuditStore(default_audit_path()).record(
                image_sha256=assessment.digest, file_name=assessment.name, model_version=version,
                probability=assessment.probability, threshold=assessment.threshold,
                model_label=assessment.label_name, clinician_read=read, note=note,
            )
        except AuditStoreError as error:
            outcome = ("error", f"Audit trail: {error}")
        else:
            outcome = ("success", f"Saved to the audit trail at {saved.recorded_at} ({read}).")
            st.session_state[read_key], st.session_state[note_key] = None, ""
    st.session_state[state.for_image(state.AUDIT_OUTCOME, assessment.digest)] = outcome


def audit_panel(assessment: Assessment) -> None:
    """The read form, what Save did, and the reads recorded so far.

    Merely viewing an image creates no database: the file appears with the first saved read. A database
    that cannot take a read (read-only, locked, damaged) gets Save disabled and the reason beside it.
    """
    path = default_audit_path()
    store, unusable = None, ""
    if path.exists():
        try:
            store = AuditStore(path)
            entries, export = store.entries(), store.export_csv()
        except AuditStoreError as error:
            unusable = f"Audit trail: {error}"
    blocked = unusable or (store.read_only_reason if store else "")
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
            "Save to the audit trail", icon=":material/save:", disabled=bool(blocked),
            on_click=_save_read, args=(assessment, classifier().version),
        )
    if outcome := st.session_state.pop(state.for_image(state.AUDIT_OUTCOME, assessment.digest), None):
        kind, text = outcome
        show, icon = OUTCOME_STYLES[kind]
        show(plain(text), icon=icon)
    if unusable:
        st.error(plain(unusable), icon="🚫")
        return
    if store is None:
        st.caption(f"No reads recorded yet; they will be stored in {path} (set {AUDIT_DB_ENV} to change it).")
        return
    if store.read_only_reason:
        st.warning(plain(store.read_only_reason), icon="🔒")
    with st.expander(f"Audit trail: {len(entries)} read{'' if len(entries) == 1 else 's'} recorded"):
        if entries:
            recent = pd.DataFrame([asdict(entry) for entry in reversed(entries[-RECENT_READS:])])
            st.dataframe(
                recent[["recorded_at", "file_name", "model_label", "probability", "clinician_read", "note"]],
                hide_index=True,
                column_config={"probability": st.column_config.NumberColumn(format="percent")},
                key=state.AUDIT_RECENT,
            )
        st.download_button(
            "Download the audit trail (CSV)", data=export, mime="text/csv", icon=":material/download:",
            file_name=f"xray_audit_trail_{datetime.now(UTC):%Y%m%d}.csv", on_click="ignore",
        )
        st.caption(f"Stored in {path}; set {AUDIT_DB_ENV} to keep it elsewhere.")
