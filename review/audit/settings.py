"""Where the audit trail is kept: a PostgreSQL server for a department, else a SQLite file on this machine."""
from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError

from model.errors import AuditStoreError

AUDIT_DB_ENV = "XRAY_AUDIT_DB"
DATABASE_URL_ENV = "XRAY_DATABASE_URL"
DEFAULT_AUDIT_DB = Path.home() / ".xray_review" / "audit.sqlite3"
SERVER_BACKENDS = ("postgresql",)
SERVER_DRIVER = "psycopg"  # psycopg 3, pinned in requirements.txt; other drivers are not installed


def default_audit_path() -> Path:
    """XRAY_AUDIT_DB when set, else a file in the user's home that outlives the app's folder."""
    return Path(os.environ.get(AUDIT_DB_ENV, DEFAULT_AUDIT_DB)).expanduser()


def sqlite_url(path: Path) -> sa.URL:
    return sa.URL.create("sqlite", database=str(path))


def parse_url(text: str) -> sa.URL:
    """A database URL from the settings; one this app cannot use is refused with the variable's name."""
    try:
        url = sa.make_url(text)
    except (ArgumentError, ValueError) as error:
        raise AuditStoreError(f"{DATABASE_URL_ENV} is not a database URL.") from error
    usable = (url.get_backend_name() in SERVER_BACKENDS and url.get_driver_name() == SERVER_DRIVER) or (
        url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    )
    if not usable:
        raise AuditStoreError(
            f"{DATABASE_URL_ENV} names a database this app cannot keep its trail in; it runs on PostgreSQL "
            f"(postgresql+{SERVER_DRIVER}://user:password@host/database) or a SQLite file (sqlite:////path/audit.sqlite3)."
        )
    return url


def audit_url(location: str | Path | sa.URL | None = None) -> sa.URL:
    """The database to use: `location` if given (a URL, or a SQLite file's path), else the settings.

    XRAY_DATABASE_URL wins over XRAY_AUDIT_DB, so a replica set up for a department never falls back
    to a file of its own.
    """
    if isinstance(location, sa.URL):
        return location
    if isinstance(location, Path) or (isinstance(location, str) and "://" not in location):
        return sqlite_url(Path(location).expanduser())
    if isinstance(location, str):
        return parse_url(location)
    if configured := os.environ.get(DATABASE_URL_ENV, "").strip():
        return parse_url(configured)
    return sqlite_url(default_audit_path())


def is_server(url: sa.URL) -> bool:
    return url.get_backend_name() in SERVER_BACKENDS


def shown_location(url: sa.URL) -> str:
    """Where the trail is, for an admin: the file, or the server URL without its password."""
    return url.database if not is_server(url) else url.render_as_string(hide_password=True)
