"""The audit trail as each person may see it: their own reads, or everyone's for an admin.

Shared by the Diagnose page's read form and the Reads page. Errors of the store are shown, never
raised; the database's own words and where the trail is kept are shown to admins only, since a
reader is never shown a server path or address.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from model.errors import AuditStoreError
from review.access import Reader, display_name
from review.audit import (
    AUDIT_DB_ENV,
    DATABASE_URL_ENV,
    AuditEntry,
    AuditStore,
    audit_url,
    entries_csv,
    existing_store,
    shown_location,
)
from ui import state
from ui.access import show_problem
from ui.text import plain

TABLE_COLUMNS = ["recorded_at", "file_name", "model_label", "probability", "clinician_read", "note"]
ADMIN_COLUMNS = ["recorded_at", "reader", "reader_email", *TABLE_COLUMNS[1:]]
BEFORE_SIGN_IN = "(recorded before sign-in)"


@dataclass
class Trail:
    """What this run could read of the trail: the store (None before the first read, or when it failed) and entries."""

    store: AuditStore | None = None
    problem: AuditStoreError | None = None
    entries: list[AuditEntry] = field(default_factory=list)
    location: str = ""  # where it is kept, for admins

    @property
    def cannot_save(self) -> bool:
        return self.problem is not None or bool(self.store and self.store.read_only_reason)


def open_trail(reader: Reader) -> Trail:
    """The reads `reader` may see; every failure of the settings or the store becomes trail.problem."""
    trail = Trail()
    try:
        url = audit_url()
        trail.location = shown_location(url)
        trail.store = existing_store(url)
        if trail.store is not None:
            trail.entries = trail.store.entries(by=None if reader.is_admin else reader)
    except AuditStoreError as error:
        trail.store, trail.problem = None, error
    return trail


def show_trail_problem(message: str, detail: str, reader: Reader) -> None:
    show_problem(message, detail, reader, "The database")


def show_state(trail: Trail, reader: Reader) -> bool:
    """Why the trail cannot be used or written, and (admins) where it is kept; False when there is nothing to list."""
    if trail.problem is not None:
        show_trail_problem(f"Audit trail: {trail.problem}", trail.problem.detail, reader)
        return False
    if trail.store is not None and trail.store.read_only_reason:
        st.warning(plain(trail.store.read_only_reason), icon="🔒")
    if reader.is_admin and trail.location:
        st.caption(plain(
            f"Stored in {trail.location}; set {DATABASE_URL_ENV} (a PostgreSQL server) or "
            f"{AUDIT_DB_ENV} (a SQLite file) to keep it elsewhere."
        ))
    return trail.store is not None


def who(entry: AuditEntry) -> str:
    return display_name(entry.reader_name, entry.reader_email, entry.reader_subject) or BEFORE_SIGN_IN


def reader_label(entry: AuditEntry) -> str:
    """The name with the e-mail beside it, so that two readers of one name can be told apart."""
    name = who(entry)
    return f"{name} ({entry.reader_email})" if entry.reader_email not in ("", name) else name


def reader_key(entry: AuditEntry) -> tuple[str, str]:
    """A person in the trail: issuer and subject, which two people never share (names and e-mails they may)."""
    return entry.reader_issuer, entry.reader_subject


def reads_table(entries: list[AuditEntry], reader: Reader, key: str) -> None:
    """Newest first; an admin also sees who made each read, by name and e-mail."""
    frame = pd.DataFrame([{**asdict(entry), "reader": who(entry)} for entry in reversed(entries)])
    st.dataframe(
        frame[ADMIN_COLUMNS if reader.is_admin else TABLE_COLUMNS], hide_index=True, key=key,
        column_config={"probability": st.column_config.NumberColumn(format="percent")},
    )


def export_button(entries: list[AuditEntry], reader: Reader) -> None:
    """The reads shown, as CSV: everyone's for an admin, one's own for a reader."""
    st.download_button(
        "Download the audit trail (CSV)" if reader.is_admin else "Download your reads (CSV)",
        data=entries_csv(entries), mime="text/csv", icon=":material/download:", on_click="ignore",
        file_name=f"xray_{'audit_trail' if reader.is_admin else 'my_reads'}_{datetime.now(UTC):%Y%m%d}.csv",
    )


def count_phrase(entries: list[AuditEntry], reader: Reader) -> str:
    if reader.is_admin:
        return f"{len(entries)} read{'' if len(entries) == 1 else 's'} recorded by everyone"
    return f"Your reads: {len(entries)} recorded"


def reads_page(reader: Reader) -> None:
    """Every read this person may see, newest first, with the export; an admin can narrow it to some readers."""
    trail = open_trail(reader)
    if not show_state(trail, reader):
        if trail.problem is None:
            st.info("No reads have been recorded yet. Reads are saved from the Diagnose page, one per image.")
        return
    entries, summary = trail.entries, count_phrase(trail.entries, reader)
    if reader.is_admin and entries:
        people = {reader_key(entry): reader_label(entry) for entry in entries}
        chosen = st.multiselect("Readers", sorted(people, key=people.get), format_func=people.get,
                                key=state.READS_FILTER, placeholder="Everyone")
        if chosen:
            entries = [entry for entry in entries if reader_key(entry) in chosen]
            summary = f"{len(entries)} of {len(trail.entries)} reads, by the readers chosen"
    st.markdown(plain(summary))
    if entries:
        reads_table(entries, reader, state.READS_TABLE)
    export_button(entries, reader)
