"""Use the app as a person would: a real `streamlit run` server on a loopback port, driven by headless Chromium.

Shared by the browser tests and bench/memory.py, so the memory figures come
from the same path a clinician's upload takes. Chromium is Debian's package;
no browser is ever downloaded.
"""
from __future__ import annotations

import csv
import io
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Browser, FilePayload, Page, Playwright

from model.paths import PROJECT_ROOT
from ui import state
from ui.pages import MODEL_AND_DATA_PATH, MODEL_AND_DATA_TITLE, READS_TITLE

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
HOST = "127.0.0.1"
ARTIFACTS = PROJECT_ROOT / "tests" / "artifacts"  # screenshots and server logs of the browser tests (git-ignored)
STARTUP_SECONDS = 120
RESULT_TIMEOUT_MS = 240_000
PAGE_TIMEOUT_MS = 120_000
EXPLANATION_IMAGES = 3  # LIME's regions, top regions, and pros and cons; the viewer draws its own
MODEL_PAGE_MIN_CHARTS = 6
MODEL_PAGE_LINK = MODEL_AND_DATA_TITLE
MODEL_PAGE_URL = f"**/{Path(MODEL_AND_DATA_PATH).stem}"  # st.Page names the URL after the file
PERCENT = re.compile(r"(\d+(?:\.(\d+))?)\s*%")

# The viewer component's root (ui/diagnose/viewer.js; Streamlit marks a keyed element's container .st-key-KEY).
VIEWER_ROOT = f'[class*="st-key-{state.VIEWER}"] .xv'
# True once the viewer has drawn its X-ray and layers (it marks its root ready with the image's id).
VIEWER_DRAWN = f"""(() => {{
    const viewer = document.querySelector('{VIEWER_ROOT}');
    return Boolean(viewer && viewer.dataset.ready && [...viewer.querySelectorAll('img.xv-xray')].every((i) => i.complete
        && i.naturalWidth > 0));
}})()"""
# True once the run for `name` has finished: its heading, the explanation images decoded, the viewer drawn, the
# report button (the page's last element) drawn, and nothing left over from the previous run.
RESULT_READY = """([name, images]) => {
    const fresh = (selector) => [...document.querySelectorAll(selector)].filter((e) => !e.closest('[data-stale="true"]'));
    if (document.querySelector('[data-testid="stException"]')) return true;
    const heading = fresh('[data-testid="stHeading"]').some((h) => h.innerText.trim() === name);
    const drawn = fresh('[data-testid="stImage"] img').filter((i) => i.complete && i.naturalWidth > 0);
    return heading && drawn.length >= images && fresh('[data-testid="stDownloadButton"]').length > 0
        && VIEWER && !document.querySelector('[data-stale="true"]');
}""".replace("VIEWER", VIEWER_DRAWN)
# True once the call for `name` is on screen: its heading and the Result metric of this run.
CALL_SHOWN = """(name) => {
    if (document.querySelector('[data-testid="stException"]')) return true;
    const fresh = (selector) => [...document.querySelectorAll(selector)].filter((e) => !e.closest('[data-stale="true"]'));
    return fresh('[data-testid="stHeading"]').some((h) => h.innerText.trim() === name)
        && fresh('[data-testid="stMetricLabel"]').some((l) => l.innerText.trim() === "Result");
}"""
CHARTS_DRAWN = """(minimum) => {
    if (document.querySelector('[data-testid="stException"]')) return true;
    const charts = [...document.querySelectorAll('.js-plotly-plot')];
    return charts.length >= minimum && charts.every((c) => c._fullData && c.querySelector('.main-svg'))
        && [...document.images].every((i) => i.complete);
}"""


@dataclass
class Server:
    """A running `streamlit run app.py` and where its output goes."""

    url: str
    process: subprocess.Popen
    log: Path

    def rss_bytes(self) -> int:
        """Resident memory of the server process, from /proc (psutil is not a dependency)."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        kilobytes = re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.MULTILINE)
        return int(kilobytes.group(1)) * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def answers(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read() if response.status == 200 else None
    except OSError:
        return None


@contextmanager
def streamlit_server(
    log: Path, env: Mapping[str, str] | None = None, launcher: Sequence[str] = (sys.executable, "-m", "streamlit"),
    options: Sequence[str] = (),
) -> Iterator[Server]:
    """Start the app as the README says (`streamlit run app.py`) on a free loopback port; stop it on exit.

    `options` are more of Streamlit's command-line settings, e.g. ("--secrets.files", path) for sign-in.
    """
    port = free_port()
    command = [
        *launcher, "run", "app.py",
        "--server.headless", "true", "--server.port", str(port), "--server.address", HOST,
        "--server.fileWatcherType", "none", *options,
    ]
    url = f"http://{HOST}:{port}"
    with running(command, log, lambda: answers(f"{url}/_stcore/health") == b"ok", "streamlit",
                 cwd=PROJECT_ROOT, env={**os.environ, **(env or {})}) as process:
        yield Server(url, process, log)


@contextmanager
def running(command: Sequence[str], log: Path, ready: Callable[[], bool], what: str,
            **popen: object) -> Iterator[subprocess.Popen]:
    """Start `command` with its output in `log`, wait until `ready()`, and stop it on exit (killed if it lingers)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **popen)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def open_diagnose(browser: Browser, url: str, before: Callable[[Page], None] | None = None) -> Page:
    """A new session (its own browser context) on the Diagnose page, ready for an upload.

    `before(page)` runs before the page loads, e.g. to listen to its websocket from the start.
    """
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    if before is not None:
        before(page)
    page.goto(url)
    ready = page.get_by_test_id("stFileUploaderDropzoneInput").or_(page.get_by_test_id("stException"))
    ready.first.wait_for(state="attached", timeout=60_000)
    raise_on_exception(page)
    return page


def wait_until_idle(page: Page, timeout_ms: int = 240_000, polling: int | str = "raf") -> None:
    """Until the page's script run has finished (Streamlit's own marker; the status widget may never show)."""
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.dataset.testScriptState === 'notRunning'",
        timeout=timeout_ms, polling=polling,
    )


def upload(page: Page, *files: Path | FilePayload) -> None:
    """Drop files on the Diagnose page's uploader, as choosing them in the file dialog does."""
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(list(files))


def remove_uploads(page: Page) -> None:
    """Clear the uploader with its delete buttons and wait for the page to invite a new upload."""
    chips = page.get_by_test_id("stFileChipDeleteBtn")
    while chips.count():
        chips.first.click()
    page.get_by_text("Upload one or more chest X-rays").wait_for(timeout=60_000)


def raise_on_exception(page: Page) -> None:
    exception = page.get_by_test_id("stException")
    if exception.count():
        raise AssertionError(f"the page shows an exception:\n{exception.first.inner_text()}")


def wait_for_result(page: Page, name: str) -> dict[str, str]:
    """Wait until the result and explanations for `name` are shown; return the metrics by label."""
    page.wait_for_function(RESULT_READY, arg=[name, EXPLANATION_IMAGES], timeout=RESULT_TIMEOUT_MS)
    raise_on_exception(page)
    return shown_metrics(page)


def shown_metrics(page: Page) -> dict[str, str]:
    return {
        metric.get_by_test_id("stMetricLabel").inner_text().strip(): metric.get_by_test_id("stMetricValue")
        .inner_text().strip()
        for metric in page.get_by_test_id("stMetric").all()
    }


def shown_errors(page: Page) -> list[str]:
    return page.get_by_test_id("stAlertContentError").all_inner_texts()


def explanation_image_widths(page: Page) -> list[int]:
    return page.get_by_test_id("stImage").locator("img").evaluate_all("images => images.map(i => i.naturalWidth)")


def shown_percent(text: str) -> tuple[float, float]:
    """The first percentage in `text`, and the rounding its shown digits may carry (half a unit of the last)."""
    match = PERCENT.search(text)
    if match is None:
        raise AssertionError(f"no percentage in {text!r}")
    decimals = len(match.group(2) or "")
    return float(match.group(1)), 0.5 * 10.0**-decimals


def open_model_page(page: Page) -> int:
    """Go to the Model & data page through the sidebar; return how many plotly charts it drew."""
    page.get_by_role("link", name=MODEL_PAGE_LINK).click()
    page.wait_for_url(MODEL_PAGE_URL)
    page.wait_for_function(CHARTS_DRAWN, arg=MODEL_PAGE_MIN_CHARTS, timeout=RESULT_TIMEOUT_MS)
    raise_on_exception(page)
    return page.locator(".js-plotly-plot").count()


def screenshot(page: Page, path: Path, height: int | None = None, from_heading: str | None = None) -> Path:
    """The page's content at its full height, or `height` pixels of it from the top or from a heading."""
    path.parent.mkdir(parents=True, exist_ok=True)
    block = page.get_by_test_id("stMainBlockContainer")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": block.evaluate("b => b.scrollHeight") + 80})
    top = 0
    if from_heading is not None:
        top = page.get_by_role("heading", name=from_heading, exact=True).bounding_box()["y"] - 40
    bottom = block.evaluate("b => Math.max(...[...b.children].map((c) => c.getBoundingClientRect().bottom)) + 40")
    page.screenshot(path=path, clip={"x": 0, "y": top, "width": width, "height": height or bottom - top})
    return path


def save_a_read(page: Page, path: Path, note: str) -> None:
    """Open the X-ray on the Diagnose page and save agreement with a note, as a reader does."""
    upload(page, path)
    page.get_by_role("button", name="Save to the audit trail").wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)
    page.get_by_text("Agree", exact=True).click()
    page.get_by_role("textbox", name="Note (optional)").fill(note)
    page.get_by_role("button", name="Save to the audit trail").click()
    page.get_by_text("Saved to the audit trail").wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)


def reads_page(page: Page, summary: str) -> list[dict[str, str]]:
    """Go to the Reads page through the sidebar, wait for `summary`, and download the CSV it offers."""
    page.get_by_test_id("stSidebar").get_by_role("link", name=READS_TITLE).click()
    page.get_by_text(summary).wait_for(timeout=PAGE_TIMEOUT_MS)
    wait_until_idle(page)
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").filter(has_text="CSV").click()
    return list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
