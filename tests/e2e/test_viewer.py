"""The reading-room viewer as a radiologist uses it, in headless Chromium against `streamlit run app.py`.

Zoom links both panels; a layer switched in the legend changes the figure with no script run; a DICOM window
preset redraws the X-ray and leaves the probability; the keyboard fits the view and switches the layers.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page

from model.explain.views import viewer_shape
from review.triage import digest_of
from review.viewer import LAYER_TRACES
from tests.browser import (
    ARTIFACTS,
    VIEWER_CHART,
    open_diagnose,
    screenshot,
    shown_metrics,
    upload,
    wait_for_result,
    wait_until_idle,
)
from tests.e2e import BROWSER_TEST
from tests.inputs import WINDOW_NAMES, Upload, windowed_dicom
from ui import state
from ui.shortcuts import FIT_VIEW, SWITCH_LAYERS

pytestmark = BROWSER_TEST

# Counts the page's script runs from now on: Streamlit marks stApp while a run (a fragment's too) is going.
COUNT_RUNS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.scriptRuns = 0;
    new MutationObserver(() => { if (app.dataset.testScriptState === 'running') window.scriptRuns += 1; })
        .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def ranges(page: Page) -> dict[str, list[float]]:
    """The visible x and y ranges of both panels, as plotly holds them after the last interaction."""
    return page.locator(VIEWER_CHART).evaluate(
        "c => ({x: c._fullLayout.xaxis.range, x2: c._fullLayout.xaxis2.range,"
        " y: c._fullLayout.yaxis.range, y2: c._fullLayout.yaxis2.range})"
    )


def visibility(page: Page) -> list:
    return page.locator(VIEWER_CHART).evaluate(f"c => {list(LAYER_TRACES.values())}.map((i) => c._fullData[i].visible)")


def image_source(page: Page) -> str:
    return page.locator(VIEWER_CHART).evaluate("c => c.data[0].source")


def shown_image(page: Page) -> np.ndarray:
    """The X-ray the viewer shows, decoded from its data URI."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(image_source(page).split(",", 1)[1]))).convert("L"))


def test_zoom_links_panels_layers_switch_in_the_browser_and_a_window_changes_only_the_display(
    server, browser, xray_pixels
):
    data = windowed_dicom(xray_pixels)
    page = open_diagnose(browser, server.url)
    upload(page, Upload("windows.dcm", data).for_browser())
    wait_for_result(page, "windows.dcm")
    chart = page.locator(VIEWER_CHART)
    chart.scroll_into_view_if_needed()
    assert visibility(page) == ["legendonly"] * 3, "the plain image is the default view"
    assert shown_image(page).shape == viewer_shape(*xray_pixels.shape), "at full resolution, up to 2048 pixels"

    probability = shown_metrics(page)["Probability of pneumonia"]
    before = image_source(page)
    window = page.locator(f".st-key-{state.for_image(state.VIEWER_WINDOW, digest_of(data))}")
    window.get_by_role("combobox").click()
    page.get_by_role("option", name=WINDOW_NAMES[1], exact=True).click()
    page.wait_for_function(f"(s) => document.querySelector('{VIEWER_CHART}')?.data[0].source !== s", arg=before)
    wait_until_idle(page)
    assert shown_metrics(page)["Probability of pneumonia"] == probability, "the network's answer is unchanged"
    assert (shown_image(page) == 0).mean() > 0.01, "the lung window clips the denser parts to black"

    chart = page.locator(VIEWER_CHART)
    full = ranges(page)
    box = chart.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    for _ in range(3):
        page.mouse.wheel(0, -300)
    page.wait_for_function(f"(x) => document.querySelector('{VIEWER_CHART}')._fullLayout.xaxis.range[0] !== x",
                           arg=full["x"][0])
    zoomed = ranges(page)
    assert np.ptp(zoomed["x"]) < 0.9 * np.ptp(full["x"]), f"the wheel zooms in: {full} -> {zoomed}"
    assert zoomed["x"] == pytest.approx(zoomed["x2"]) and zoomed["y"] == pytest.approx(zoomed["y2"]), "linked"

    page.evaluate(COUNT_RUNS)
    chart.locator("g.traces", has=page.locator(".legendtext", has_text="Grad-CAM")).locator(".legendtoggle").click()
    page.wait_for_function(f"() => document.querySelector('{VIEWER_CHART}')._fullData[{LAYER_TRACES['grad_cam']}]"
                           ".visible === true")
    page.wait_for_timeout(1000)
    assert page.evaluate("window.scriptRuns") == 0, "switching a layer asked nothing of the server"
    assert visibility(page) == ["legendonly", "legendonly", True]
    assert ranges(page)["x"] == pytest.approx(zoomed["x"]), "and kept the zoom"

    page.locator(VIEWER_CHART).click(position={"x": 5, "y": 5})  # focus on the page, not in a widget
    page.keyboard.press(SWITCH_LAYERS.lower())
    page.wait_for_function(f"() => {list(LAYER_TRACES.values())}.every("
                           f"(i) => document.querySelector('{VIEWER_CHART}')._fullData[i].visible === true)")
    screenshot(page, ARTIFACTS / "viewer.png", height=1100, from_heading="Why")
    page.keyboard.press(FIT_VIEW.lower())
    page.wait_for_function(f"(w) => {{ const r = document.querySelector('{VIEWER_CHART}')._fullLayout.xaxis.range;"
                           " return Math.abs(r[1] - r[0]) > w; }", arg=np.ptp(zoomed["x"]) * 1.05)
    assert ranges(page)["x"] == pytest.approx(full["x"], abs=1.0), "fit shows the whole X-ray again"
    page.context.close()
