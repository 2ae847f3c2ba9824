"""What the browser tests share: the app as the README starts it (their Chromium is in tests/conftest.py)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from model.paths import ARTIFACTS_ENV
from review.audit import AUDIT_DB_ENV
from tests.browser import ARTIFACTS, Server, streamlit_server


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    """`streamlit run app.py` for one test module, sign-in off, with its own audit trail; its log in tests/artifacts."""
    audit = tmp_path_factory.mktemp("audit") / "audit.sqlite3"
    env = {ARTIFACTS_ENV: str(artifacts_dir), AUDIT_DB_ENV: str(audit)}
    log = ARTIFACTS / f"streamlit-{request.module.__name__.rsplit('.', 1)[-1]}.log"
    with streamlit_server(log, env) as running:
        yield running
