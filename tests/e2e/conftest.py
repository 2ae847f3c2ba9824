"""What the browser tests share: one headless Chromium per module, and the app as the README starts it."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from model.paths import ARTIFACTS_ENV
from review.audit import AUDIT_DB_ENV
from tests.browser import ARTIFACTS, Server, launch_chromium, streamlit_server


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Server]:
    """`streamlit run app.py` for one test module, sign-in off, with its own audit trail; its log in tests/artifacts."""
    audit = tmp_path_factory.mktemp("audit") / "audit.sqlite3"
    env = {ARTIFACTS_ENV: str(artifacts_dir), AUDIT_DB_ENV: str(audit)}
    log = ARTIFACTS / f"streamlit-{request.module.__name__.rsplit('.', 1)[-1]}.log"
    with streamlit_server(log, env) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
