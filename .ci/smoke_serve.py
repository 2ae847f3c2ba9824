"""The README's `streamlit run app.py`, checked as a new user would: the server answers and the Diagnose page works.

Run from the project root with the environment under test active:
`PYTHONPATH=. python .ci/smoke_serve.py`. It starts the `streamlit` command on a free
loopback port, checks /_stcore/health and that / is served, opens the page
in headless Chromium and waits for the Diagnose page's uploader, then stops
the server. Exits non-zero, with the server's log, when any step fails.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from review.audit import AUDIT_DB_ENV
from tests.browser import answers, launch_chromium, open_diagnose, raise_on_exception, streamlit_server


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="smoke_serve_") as scratch:
        log = Path(scratch) / "streamlit.log"
        try:
            with streamlit_server(log, {AUDIT_DB_ENV: str(Path(scratch) / "audit.sqlite3")}, ("streamlit",)) as server:
                if answers(f"{server.url}/") is None:
                    raise RuntimeError(f"{server.url}/ did not answer 200")
                with sync_playwright() as playwright:
                    browser = launch_chromium(playwright)
                    page = open_diagnose(browser, server.url)
                    page.get_by_role("heading", name="Diagnose", exact=True).wait_for(timeout=60_000)
                    raise_on_exception(page)
                    browser.close()
                print(f"smoke test passed: {server.url} is healthy and serves the Diagnose page")
        except Exception as error:  # noqa: BLE001 - any failure is reported with the server's log
            print(f"smoke test failed: {error}", file=sys.stderr)
            if log.exists():
                print(log.read_text()[-5000:], file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
