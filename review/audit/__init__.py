"""The audit trail: who read which image, what the model said and what they concluded (store.py has the why)."""
from review.audit.settings import AUDIT_DB_ENV, DATABASE_URL_ENV, audit_url, default_audit_path, is_server, shown_location
from review.audit.store import (
    MAX_NOTE_CHARS,
    READS,
    AuditEntry,
    AuditStore,
    entries_csv,
    existing_store,
    migrate,
    note_problem,
)

__all__ = [
    "AUDIT_DB_ENV",
    "DATABASE_URL_ENV",
    "MAX_NOTE_CHARS",
    "READS",
    "AuditEntry",
    "AuditStore",
    "audit_url",
    "default_audit_path",
    "entries_csv",
    "existing_store",
    "is_server",
    "migrate",
    "note_problem",
    "shown_location",
]
