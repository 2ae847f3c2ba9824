"""A reader opens a study from the PACS (a real Orthanc) in headless Chromium, reads it and sends the result back."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from playwright.sync_api import Page

from model.paths import ARTIFACTS_ENV
from review.audit import AUDIT_DB_ENV
from review.pacs.results import SC_SERIES_NUMBER, SR_SERIES_NUMBER
from tests.browser import (
    ARTIFACTS,
    Server,
    open_diagnose,
    screenshot,
    shown_metrics,
    streamlit_server,
    wait_for_result,
    wait_until_idle,
)
from tests.e2e import BROWSER_TEST
from tests.services import PACS_PASSWORD, PACS_USER

pytestmark = BROWSER_TEST
SECRETS = """
[pacs]
dicomweb_url = "{url}"
username = "{user}"
password = "{password}"
organization = "Test Hospital"
"""


@pytest.fixture(scope="module")
def pacs_server(pacs, artifacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`streamlit run app.py` with a [pacs] section pointing at the test PACS."""
    folder = tmp_path_factory.mktemp("pacs-app")
    secrets = folder / "secrets.toml"
    secrets.write_text(SECRETS.format(url=pacs.dicomweb_url, user=PACS_USER, password=PACS_PASSWORD))
    env = {ARTIFACTS_ENV: str(artifacts_dir), AUDIT_DB_ENV: str(folder / "audit.sqlite3")}
    with streamlit_server(ARTIFACTS / "streamlit-pacs.log", env, options=("--secrets.files", str(secrets))) as running:
        yield running


def search(page: Page, accession: str) -> None:
    page.get_by_text("…or open a chest X-ray from the PACS").click()
    page.get_by_label("Accession number").fill(accession)
    page.get_by_role("button", name="Search the PACS").click()
    wait_until_idle(page)


def test_a_study_from_the_pacs_is_read_and_its_result_sent_back(pacs_server, pacs, browser):
    page = open_diagnose(browser, pacs_server.url)
    search(page, "ACC-1002")
    table = page.get_by_test_id("stDataFrame")
    table.wait_for()
    assert "PID-2" not in page.content() and "Roe" not in page.content(), "identifiers masked until shown"
    box = table.bounding_box()
    page.mouse.click(box["x"] + 12, box["y"] + 52)  # the first row's selection box, in the grid's canvas
    name = "PACS ACC-1002 DX PA"
    page.wait_for_function(
        "(n) => [...document.querySelectorAll('[data-testid=\"stHeading\"]')].some((h) => h.innerText.startsWith(n))",
        arg=name, timeout=120_000,
    )
    heading = page.get_by_test_id("stHeading").filter(has_text=name).first.inner_text().strip()
    metrics = wait_for_result(page, heading)
    assert metrics["Result"] in ("NORMAL", "PNEUMONIA")

    page.get_by_text("Disagree", exact=True).click()
    page.get_by_role("button", name="Save to the audit trail").click()
    wait_until_idle(page)
    page.get_by_role("button", name="Send to PACS").click()
    page.get_by_text("The PACS holds the result in this study").wait_for(timeout=120_000)
    assert "verified by your recorded read" in page.get_by_test_id("stAlertContentSuccess").inner_text()
    screenshot(page, ARTIFACTS / "pacs.png", height=900)
    written = {(item["SeriesNumber"], item["Modality"]) for item in pacs.instances()
               if item.get("AccessionNumber") == "ACC-1002"}
    assert {(str(SR_SERIES_NUMBER), "SR"), (str(SC_SERIES_NUMBER), "OT")} <= written
    # Other tests may have sent unverified reports to this study of the shared PACS: this reader's is the verified one.
    reports = [pydicom.dcmread(pacs_file(pacs, item)) for item in pacs.instances()
               if item.get("AccessionNumber") == "ACC-1002" and item["Modality"] == "SR"]
    assert any(report.VerificationFlag == "VERIFIED" for report in reports)
    assert shown_metrics(page)["Result"] == metrics["Result"]

    page.get_by_label("Accession number").fill("ACC-1003")
    page.get_by_role("button", name="Search the PACS").click()
    wait_until_idle(page)
    assert page.get_by_test_id("stHeading").filter(has_text=heading).count() == 1, \
        "a new search opens nothing until a row of it is chosen"
    assert page.get_by_test_id("stHeading").filter(has_text="ACC-1003").count() == 0
    page.context.close()


def pacs_file(pacs, tags: dict) -> Path:
    path = pacs.folder / f"{tags['SOPInstanceUID']}.dcm"
    path.write_bytes(pacs.file(tags["SOPInstanceUID"]))
    return path


def test_a_pacs_that_is_down_gets_a_message_and_the_page_keeps_serving(pacs_server, pacs, browser, tmp_path):
    """The same app pointed at a PACS port where nothing listens: a message, and uploads still work."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(SECRETS.format(url="http://127.0.0.1:9/dicom-web", user=PACS_USER, password=PACS_PASSWORD))
    env = {AUDIT_DB_ENV: str(tmp_path / "audit.sqlite3")}
    with streamlit_server(ARTIFACTS / "streamlit-pacs-down.log", env,
                          options=("--secrets.files", str(secrets))) as down:
        page = open_diagnose(browser, down.url)
        search(page, "ACC-1001")
        page.get_by_text("The PACS cannot be reached just now").wait_for(timeout=60_000)
        assert not page.get_by_test_id("stException").count()
        assert page.get_by_test_id("stFileUploaderDropzoneInput").count() == 1
        page.context.close()
