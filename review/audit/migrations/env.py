"""Alembic's entry point for the audit trail: runs on the connection review.audit.schema hands it.

`python -m review.audit migrate` and the embedded SQLite default both come through
review.audit.schema.upgrade, which opens the connection (and its transaction) from the app's own settings.
"""
from alembic import context

from review.audit.schema import VERSION_TABLE

context.configure(connection=context.config.attributes["connection"], version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
