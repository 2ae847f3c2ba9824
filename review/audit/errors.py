"""What went wrong with the audit database, in words for the reader; the database's own words go in detail.

SQLite names its errors (SQLITE_READONLY, SQLITE_BUSY…), PostgreSQL gives SQLSTATE codes; either way
the reader is told what happened to their read and what to do, and nothing names the server or file.
"""
from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from model.errors import AuditStoreError
from review.audit.settings import AUDIT_DB_ENV, DATABASE_URL_ENV

MIGRATE_COMMAND = "python -m review.audit migrate"
READ_ONLY = "The audit database is read-only for this app: earlier reads can be viewed, new ones cannot be saved."
# PostgreSQL's SQLSTATE codes (Appendix A of its manual) for what this app treats alike.
PG_CREDENTIALS_REFUSED = ("28P01", "28000")  # invalid_password, invalid_authorization_specification
PG_NO_DATABASE = "3D000"  # invalid_catalog_name
PG_READ_ONLY = ("42501", "25006")  # insufficient_privilege, read_only_sql_transaction
PG_BUSY = ("55P03", "57014", "40001", "40P01")  # lock_not_available, query_canceled (timeout), serialization, deadlock


def _sqlite_code(error: BaseException) -> str:
    """SQLite's own name for the error ("SQLITE_READONLY_DIRECTORY"), "" for errors raised by the sqlite3 module."""
    return getattr(error, "sqlite_errorname", None) or ""


def _sqlstate(error: BaseException) -> str:
    return getattr(error, "sqlstate", None) or ""


def _original(error: BaseException) -> BaseException:
    return error.orig if isinstance(error, DBAPIError) and error.orig is not None else error


def blocks_writing(error: BaseException) -> bool:
    """The trail may be readable although this process cannot write it now: read-only, or locked by a writer."""
    original = _original(error)
    return _sqlite_code(original).startswith(("SQLITE_READONLY", "SQLITE_BUSY")) or _sqlstate(original) in PG_READ_ONLY


def explain(error: BaseException) -> AuditStoreError:
    original = _original(error)
    code, state, text = _sqlite_code(original), _sqlstate(original), str(original).lower()
    detail = str(original).strip()
    if code.startswith("SQLITE_READONLY") or state in PG_READ_ONLY:
        return AuditStoreError(
            f"{READ_ONLY} Allow this app to write to it (or set {AUDIT_DB_ENV} or {DATABASE_URL_ENV} to one it may "
            "write).", detail,
        )
    if "locked" in text or "busy" in text or state in PG_BUSY:
        return AuditStoreError(
            "The audit database is busy (another program holds a lock on it); nothing was changed. "
            "Try again in a moment.", detail,
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return AuditStoreError(
            "The audit database is damaged or is not an audit database; it was left untouched. Move it aside "
            f"(keep it: it may hold earlier reads) or set {AUDIT_DB_ENV} to another file.", detail,
        )
    if state in PG_CREDENTIALS_REFUSED or "password authentication failed" in text:
        return AuditStoreError(
            f"The audit database server refused this app's credentials; check the user and password in "
            f"{DATABASE_URL_ENV}. Nothing was changed.", detail,
        )
    if state == PG_NO_DATABASE or ("database" in text and "does not exist" in text):
        return AuditStoreError(
            f"The audit database server has no database of the name in {DATABASE_URL_ENV}; create it, then run "
            f"`{MIGRATE_COMMAND}`.", detail,
        )
    if isinstance(error, DBAPIError) and error.connection_invalidated or "connect" in text or "timeout" in text:
        return AuditStoreError(
            "The audit database server cannot be reached; nothing was saved. Try again in a moment, and tell "
            "your administrator if it lasts.", detail,
        )
    return AuditStoreError("The audit database cannot be used; nothing was changed.", detail)
