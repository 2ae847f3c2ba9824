"""Sign-in as a department runs it: a real OpenID Connect provider, the audit trail on a real PostgreSQL server.

Both are started here on loopback ports (tests/services.py), the database is set up with the README's
`python -m review.audit migrate`, and `streamlit run app.py` gets `[auth]` and `[access]` from a secrets
file. Headless Chromium then goes through the provider's sign-in page as each person would.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from model.paths import ARTIFACTS_ENV, PROJECT_ROOT
from review.access import ADMIN, Reader
from review.audit import DATABASE_URL_ENV, AuditStore
from tests.browser import (
    ARTIFACTS,
    HOST,
    PAGE_TIMEOUT_MS,
    Server,
    launch_chromium,
    reads_page,
    save_a_read,
    screenshot,
    streamlit_server,
    wait_until_idle,
)
from tests.e2e import BROWSER_TEST
from tests.services import IdentityProvider, PostgresServer, identity_provider
from ui.pages import URL_PATHS

pytestmark = BROWSER_TEST

READER_A = {"sub": "reader-a", "name": "Dr Ada Reader", "email": "ada@example.org", "groups": ["xray-readers"]}
READER_B = {"sub": "reader-b", "name": "Dr Bea Reader", "email": "bea@example.org", "groups": ["xray-readers"]}
ADMIN_USER = {"sub": "admin-1", "name": "Dr Root Admin", "email": "root@example.org", "groups": ["xray-admins"]}
NOTE_OF_A = "Right lower zone consolidation (reader A)"

SECRETS = """
[auth]
redirect_uri = "http://{host}:{{port}}/oauth2callback"
cookie_secret = "a-long-random-cookie-secret-for-the-tests"
client_id = "xray-review"
client_secret = "xray-review-secret"
server_metadata_url = "{metadata_url}"

[access]
roles_claim = "groups"
admin_roles = ["xray-admins"]
"""


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    with identity_provider([READER_A, READER_B, ADMIN_USER], ARTIFACTS / "oidc-provider.log") as running:
        yield running


@pytest.fixture(scope="module")
def audit_url(postgres: PostgresServer) -> str:
    """A new database set up as the README says, with the one migration command."""
    url = postgres.new_database("audit_sign_in")
    done = subprocess.run([sys.executable, "-m", "review.audit", "migrate"], env={**os.environ, DATABASE_URL_ENV: url},
                          cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert "migrated from revision none" in done.stdout
    return url


@pytest.fixture(scope="module")
def server(artifacts_dir: Path, provider: IdentityProvider, audit_url: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    secrets = tmp_path_factory.mktemp("secrets") / "secrets.toml"
    secrets.write_text(SECRETS.format(host=HOST, metadata_url=provider.metadata_url))
    env = {ARTIFACTS_ENV: str(artifacts_dir), DATABASE_URL_ENV: audit_url}
    with streamlit_server(ARTIFACTS / "streamlit-sign-in.log", env, options=("--secrets.files", str(secrets))) as running:
        yield running


def sign_in(page: Page, user: dict) -> None:
    """From the app's sign-in page through the provider's form, as `user`, back to the Diagnose page."""
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name=user["sub"], exact=True).click()
    page.get_by_test_id("stFileUploaderDropzoneInput").wait_for(state="attached", timeout=PAGE_TIMEOUT_MS)
    page.get_by_test_id("stSidebar").get_by_text(user["name"]).wait_for(timeout=PAGE_TIMEOUT_MS)


def sign_out(page: Page) -> None:
    """The sidebar's button, then the provider's end-session page, then the app's sign-in page again."""
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()
    page.get_by_role("button", name="Sign in").wait_for(timeout=PAGE_TIMEOUT_MS)


def assert_closed(page: Page) -> None:
    """Nothing but the way in: no uploader, no samples, no reads, no charts, no sidebar."""
    page.get_by_role("button", name="Sign in").wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)
    for test_id in ("stFileUploaderDropzoneInput", "stSelectbox", "stDataFrame", "stExpander", "stSidebar",
                    "stImage", "stPlotlyChart"):
        assert page.get_by_test_id(test_id).count() == 0, test_id
    assert page.locator(".js-plotly-plot").count() == 0 and page.locator(".xv").count() == 0


def test_readers_see_their_own_reads_an_admin_sees_all_and_visitors_nothing(server, audit_url, val_images):
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True).new_page()
        for path in ("", *URL_PATHS):
            page.goto(f"{server.url}/{path}")
            assert_closed(page)
            assert page.get_by_text("Page not found").count() == 0, f"/{path} opens the way in, not an error"
            if not path:
                screenshot(page, ARTIFACTS / "sign_in.png")

        page.goto(server.url)
        sign_in(page, READER_A)
        save_a_read(page, val_images[-1][0], NOTE_OF_A)
        assert [row["note"] for row in reads_page(page, "Your reads: 1 recorded")] == [NOTE_OF_A]
        sign_out(page)
        assert_closed(page)

        sign_in(page, READER_B)
        assert reads_page(page, "Your reads: 0 recorded") == []
        assert NOTE_OF_A not in page.inner_text("body")
        sign_out(page)

        sign_in(page, ADMIN_USER)
        [row] = reads_page(page, "1 read recorded by everyone")
        screenshot(page, ARTIFACTS / "reads.png")
        assert (row["reader_subject"], row["reader_name"], row["reader_email"], row["note"]) == (
            "reader-a", "Dr Ada Reader", "ada@example.org", NOTE_OF_A
        )
        sign_out(page)
        assert_closed(page)
        browser.close()

    admin = Reader(ADMIN_USER["sub"], "", ADMIN_USER["name"], ADMIN_USER["email"], ADMIN)
    [stored] = AuditStore(audit_url).entries()
    assert stored.reader_issuer.startswith(f"http://{HOST}:") and stored.clinician_read == "agree"
    assert AuditStore(audit_url).entries(by=admin) == []
