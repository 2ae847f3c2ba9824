"""The app as a clinician meets it: `streamlit run app.py` on a loopback port, used through headless Chromium.

One server serves the whole module. Screenshots go to tests/artifacts/
(git-ignored); the README's come from there.
"""
from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Page

from model.dataset import CLASS_NAMES
from model.imaging.decode import read_image
from model.inference import Classifier
from tests.browser import (
    ARTIFACTS,
    EXPLANATION_IMAGES,
    MODEL_PAGE_MIN_CHARTS,
    RESULT_TIMEOUT_MS,
    explanation_image_widths,
    open_diagnose,
    open_model_page,
    screenshot,
    shown_errors,
    shown_percent,
    upload,
    wait_for_result,
    wait_until_idle,
)
from tests.e2e import BROWSER_TEST
from tests.inputs import HOSTILE_ARCHIVE, REFERRAL_NOTE, Upload, make_zip, truncated, zip_bomb
from ui import state

pytestmark = BROWSER_TEST

SESSIONS = 4


def assert_shows_the_models_call(page: Page, path: Path, classifier: Classifier) -> None:
    """The page's label and probability for `path` are what the model itself gives that file."""
    probability = classifier.probability_of(read_image(path).pixels)
    shown = wait_for_result(page, path.name)
    expected = CLASS_NAMES[int(probability >= classifier.threshold)]
    assert shown["Result"] == expected, f"{path.name}: {shown}"
    percent, rounding = shown_percent(shown["Probability of pneumonia"])
    assert percent == pytest.approx(100 * probability, abs=rounding + 0.01), f"{path.name}: {shown}"


def test_upload_shows_the_call_and_explanations_then_the_model_page_its_charts(server, browser, classifier, val_images):
    path = val_images[-1][0]
    page = open_diagnose(browser, server.url)
    sign_in_off = page.get_by_text("Sign-in is off: the app runs as one local user")
    assert sign_in_off.count() == 1, "without [auth] the first page says so"
    upload(page, path)
    assert_shows_the_models_call(page, path, classifier)
    assert sign_in_off.count() == 0, "said once per session, not on every run"
    widths = explanation_image_widths(page)
    assert len(widths) >= EXPLANATION_IMAGES and min(widths) > 0, f"undrawn explanation images: {widths}"
    screenshot(page, ARTIFACTS / "diagnose.png")

    charts = open_model_page(page)
    assert charts >= MODEL_PAGE_MIN_CHARTS
    assert page.get_by_role("heading", name="Model & data").is_visible()
    screenshot(page, ARTIFACTS / "model_and_data.png")
    screenshot(page, ARTIFACTS / "model_and_data_performance.png", height=1700, from_heading="Performance")
    page.context.close()


def test_bad_files_get_a_message_and_the_next_upload_its_result(server, browser, classifier, val_images):
    page = open_diagnose(browser, server.url)
    good = val_images[-1][0]
    upload(page, Upload("notes.txt", REFERRAL_NOTE).for_browser(), Upload("studies.zip", make_zip({})).for_browser())
    uploader = page.get_by_test_id("stFileUploader")
    uploader.get_by_text("text/plain files are not allowed").wait_for()
    uploader.get_by_text("application/zip files are not allowed").wait_for()

    cut = Upload(f"cut_{good.name}", truncated(good.read_bytes()))
    upload(page, cut.for_browser())
    page.get_by_test_id("stAlertContentError").filter(has_text=cut.name).wait_for()
    assert "truncated" in " ".join(shown_errors(page))

    upload(page, good)
    assert_shows_the_models_call(page, good, classifier)
    assert any(cut.name in error for error in shown_errors(page)), "the bad file keeps its message beside the result"
    screenshot(page, ARTIFACTS / "bad_then_good.png")
    page.context.close()


def test_file_names_are_shown_as_written_never_as_markdown(server, browser, val_images):
    """A name with a markdown link and bold text: the heading and the error show it literally, with no link."""
    page = open_diagnose(browser, server.url)
    good = val_images[2][0]
    named = Upload("[Open prior study](http://127.0.0.1:9/phish) **chest**.jpeg", good.read_bytes())
    broken = Upload("[click](http://127.0.0.1:9/p) _bad_.png", b"not a png")
    upload(page, named.for_browser(), broken.for_browser())
    page.get_by_test_id("stHeading").filter(has_text="Open prior study").first.wait_for(timeout=RESULT_TIMEOUT_MS)
    headings = [heading.strip() for heading in page.get_by_test_id("stHeading").all_inner_texts()]
    assert named.name in headings, "the heading is the name itself, character for character, as a reader copies it"
    page.get_by_test_id("stAlertContentError").filter(has_text="click").wait_for()
    assert any(f"'{broken.name}'" in error for error in shown_errors(page)), shown_errors(page)
    assert links_to(page, "127.0.0.1:9") == 0, "no link made from a file name"
    page.context.close()


def links_to(page: Page, address: str) -> int:
    """Links on the page, in HTML or in plotly's SVG (xlink:href), whose target holds `address`."""
    return page.evaluate(
        """(address) => [...document.querySelectorAll('a')].filter(
            (a) => (a.getAttribute('href') || a.getAttribute('xlink:href') || '').includes(address)).length""",
        address,
    )


def choose(page: Page, key: str, typed: str) -> str:
    """Pick the option matching `typed` in the selectbox with widget key `key`, as a reader types to filter; the choice.

    Streamlit marks a keyed widget's container .st-key-KEY.
    """
    box = page.locator(f".st-key-{key}")
    box.get_by_role("combobox").click()
    page.keyboard.type(typed)
    page.keyboard.press("Enter")
    wait_until_idle(page)
    return box.get_by_role("combobox").input_value()


def test_an_archive_named_in_html_and_markdown_reads_as_written_on_the_model_page(server, browser, val_images):
    """The set's name in the notice, tab, explorer warning, captions and plotly titles: as written, never markup."""
    page = open_diagnose(browser, server.url)
    open_model_page(page)
    members = {f"{CLASS_NAMES[label]}/{path.name}": path.read_bytes() for path, label in val_images[:2] + val_images[8:10]}
    archive = zip_bomb(zipfile.ZIP_BZIP2, 64 << 20, declared=1000, others=members)
    name = HOSTILE_ARCHIVE.removesuffix(".zip")
    upload(page, Upload(HOSTILE_ARCHIVE, archive).for_browser())
    wait_until_idle(page)
    page.get_by_role("button", name="Score archive").click()
    page.get_by_test_id("stAlertContentSuccess").filter(has_text="4 images, 1 skipped").wait_for(timeout=RESULT_TIMEOUT_MS)
    wait_until_idle(page)
    notices = page.get_by_test_id("stAlert").all_inner_texts()
    assert any(f"Scored '{name}'" in notice for notice in notices), notices
    assert any("NORMAL/bomb.png" in notice and "declares" in notice for notice in notices), notices
    assert choose(page, state.EXPLORER_SET, "www.evil.example") == name
    page.locator(f".st-key-{state.EXPLORER_THRESHOLD}").get_by_role("slider").press("End")
    warning = page.get_by_test_id("stAlertContentWarning").filter(has_text="pneumonias in")
    warning.wait_for(timeout=RESULT_TIMEOUT_MS)
    assert f"pneumonias in '{name}'," in warning.inner_text()
    captions = page.get_by_test_id("stCaptionContainer").all_inner_texts()
    assert any(f"PPV and NPV in '{name}' at every threshold" in caption for caption in captions), captions
    tab = page.get_by_role("tab").filter(has_text="www.evil.example")
    assert tab.inner_text().strip() == name
    tab.click()
    wait_until_idle(page)
    titles = page.locator(".gtitle, .annotation-text").evaluate_all("nodes => nodes.map((n) => n.textContent)")
    assert f"Confusion matrix, {name}" in titles, titles
    assert any(title.startswith(f"evaluation: {name}") for title in titles), titles
    assert links_to(page, "evil.example") == links_to(page, "127.0.0.1:9") == 0, "no link made from the name"
    bold = page.locator("b, strong").evaluate_all("nodes => nodes.map((n) => n.textContent)")
    assert "ward" not in bold and "y" not in bold, bold
    screenshot(page, ARTIFACTS / "hostile_archive_name.png", height=1400, from_heading="Threshold explorer")
    page.context.close()


def distinct_calls(classifier: Classifier, paths: list[Path], count: int) -> list[Path]:
    """`count` images spread over the probability range whose shown probabilities all differ."""
    scored = sorted((classifier.probability_of(read_image(p).pixels), p) for p in paths)
    by_shown = {f"{probability:.1%}": path for probability, path in scored}
    assert len(by_shown) >= count, "too few validation images with different probabilities"
    spread = list(by_shown.values())
    return [spread[int(i)] for i in np.linspace(0, len(spread) - 1, count).round()]


def test_four_sessions_at_once_each_get_their_own_result(server, browser, classifier, val_images):
    """Four browser contexts (four sessions) upload different X-rays back to back, so the server scores and
    explains them at the same time; each must show its own image's call, not a neighbour's."""
    paths = distinct_calls(classifier, [p for p, _ in val_images], SESSIONS)
    pages = [open_diagnose(browser, server.url) for _ in paths]
    for page, path in zip(pages, paths):
        upload(page, path)
    for index, (page, path) in enumerate(zip(pages, paths)):
        assert_shows_the_models_call(page, path, classifier)
        screenshot(page, ARTIFACTS / f"session_{index}.png", height=1000)
    for page in pages:
        page.context.close()
