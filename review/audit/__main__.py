"""`python -m review.audit migrate`: bring the audit database named by the settings to this release's schema.

Run once per release by an administrator, before the replicas start; the replicas only check. The
database comes from XRAY_DATABASE_URL, else XRAY_AUDIT_DB (the embedded SQLite file), as in the app.
"""
from __future__ import annotations

import argparse
import sys

from model.errors import AuditStoreError
from review.audit.settings import AUDIT_DB_ENV, DATABASE_URL_ENV, audit_url, shown_location
from review.audit.store import migrate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m review.audit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "migrate", help=f"create or upgrade the audit tables in the database {DATABASE_URL_ENV} or {AUDIT_DB_ENV} names",
    )
    parser.parse_args(argv)
    try:
        url = audit_url()
        before, after = migrate(url)
    except AuditStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        if error.detail:
            print(f"the database said: {error.detail}", file=sys.stderr)
        return 1
    where = shown_location(url)
    if before == after:
        print(f"{where}: already at revision {after}; nothing to do.")
    else:
        print(f"{where}: migrated from revision {before or 'none'} to {after}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
