"""The reading-room viewer as a radiologist uses it, in headless Chromium against `streamlit run app.py`.

Zoom links both panels; a layer switched on, its opacity and Grad-CAM's threshold change the picture with no script
run; a DICOM window preset redraws the X-ray, keeps the zoom and leaves the probability; the keyboard fits the view
and switches the layers.
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
from review.viewer import DEFAULT_OPACITY, DEFAULT_THRESHOLD
from tests.browser import (
    ARTIFACTS,
    VIEWER_ROOT,
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


LAYERS = ["lime_for", "lime_against", "grad_cam"]
# Each panel's visible range in X-ray pixels, from where the browser has put the picture: [x0, x1, y0, y1].
VISIBLE = """r => [...r.querySelectorAll('.xv-panel')].map((panel) => {
    const port = panel.querySelector('.xv-port').getBoundingClientRect();
    const xray = panel.querySelector('.xv-xray');
    const shown = xray.getBoundingClientRect();
    const scale = shown.width / xray.naturalWidth;
    return [(port.left - shown.left) / scale, (port.right - shown.left) / scale,
            (port.top - shown.top) / scale, (port.bottom - shown.top) / scale];
})"""
# How many of a layer's cells the browser draws (alpha > 0), and the opacity it draws them at.
DRAWN = """([r, id]) => {
    const canvas = r.querySelector(`canvas[data-layer="${id}"]`);
    const alpha = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data
        .filter((_, i) => i % 4 === 3);
    return [canvas.hidden ? 0 : alpha.filter((a) => a > 0).length, Number(canvas.style.opacity)];
}"""


def visible(page: Page) -> np.ndarray:
    """Rows: the plain and the explained panel."""
    return np.array(page.locator(VIEWER_ROOT).evaluate(VISIBLE))


def same_view(first: np.ndarray, second: np.ndarray) -> bool:
    return np.allclose(first, second, atol=0.5)


def layers_on(page: Page) -> list[str]:
    return [layer for layer in page.locator(VIEWER_ROOT).evaluate("r => r.dataset.layersOn").split(",") if layer]


def drawn(page: Page, layer: str) -> tuple[int, float]:
    return tuple(page.locator(VIEWER_ROOT).evaluate(f"r => ({DRAWN})([r, '{layer}'])"))


def image_source(page: Page) -> str:
    return page.locator(f"{VIEWER_ROOT} img.xv-xray").first.get_attribute("src")


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
    viewer = page.locator(VIEWER_ROOT)
    viewer.scroll_into_view_if_needed()
    assert layers_on(page) == [], "the plain image is the default view"
    assert all(drawn(page, layer)[0] == 0 for layer in LAYERS)
    assert shown_image(page).shape == viewer_shape(*xray_pixels.shape), "at full resolution, up to 2048 pixels"
    rows, columns = viewer_shape(*xray_pixels.shape)
    full = visible(page)
    assert same_view(full[0], full[1])
    assert full[0][0] <= 0.5 and full[0][1] >= columns - 0.5 and full[0][2] <= 0.5 and full[0][3] >= rows - 0.5

    box = viewer.locator(".xv-port").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.5)
    for _ in range(3):
        page.mouse.wheel(0, -300)
    page.wait_for_function(f"(x) => ({VISIBLE})(document.querySelector('{VIEWER_ROOT}'))[0][0] > x",
                           arg=full[0][0] + 1)
    zoomed = visible(page)
    assert np.ptp(zoomed[0][:2]) < 0.9 * np.ptp(full[0][:2]), f"the wheel zooms in: {full} -> {zoomed}"
    assert same_view(zoomed[0], zoomed[1]), "both panels show the same part of the X-ray"

    probability = shown_metrics(page)["Probability of pneumonia"]
    before = image_source(page)
    window = page.locator(f".st-key-{state.for_image(state.VIEWER_WINDOW, digest_of(data))}")
    window.get_by_role("combobox").click()
    page.get_by_role("option", name=WINDOW_NAMES[1], exact=True).click()
    page.wait_for_function(f"(s) => document.querySelector('{VIEWER_ROOT} img.xv-xray')?.src !== s", arg=before)
    wait_until_idle(page)
    assert shown_metrics(page)["Probability of pneumonia"] == probability, "the network's answer is unchanged"
    assert (shown_image(page) == 0).mean() > 0.01, "the lung window clips the denser parts to black"
    assert same_view(visible(page), zoomed), "the new window keeps the reader's zoom"

    page.evaluate(COUNT_RUNS)
    viewer.locator('input[data-layer="grad_cam"]').check()
    assert layers_on(page) == ["grad_cam"]
    cells, opacity = drawn(page, "grad_cam")
    assert cells > 0 and opacity == pytest.approx(DEFAULT_OPACITY)
    viewer.locator("input[type=range]").nth(1).fill("0.8")
    fewer, _ = drawn(page, "grad_cam")
    assert 0 < fewer < cells, "a higher threshold leaves more of Grad-CAM clear"
    viewer.locator("input[type=range]").first.fill("0.9")
    assert drawn(page, "grad_cam")[1] == pytest.approx(0.9)
    page.wait_for_timeout(1000)
    assert page.evaluate("window.scriptRuns") == 0, "layers, opacity and threshold asked nothing of the server"
    assert same_view(visible(page), zoomed), "and kept the zoom"

    page.keyboard.press(SWITCH_LAYERS.lower())  # with the focus still on the viewer's own slider
    assert layers_on(page) == LAYERS
    assert all(drawn(page, layer)[0] > 0 for layer in LAYERS)
    page.keyboard.press(FIT_VIEW.lower())
    assert same_view(visible(page), full), "fit shows the whole X-ray again"
    viewer.locator("input[type=range]").first.fill(str(DEFAULT_OPACITY))
    viewer.locator("input[type=range]").nth(1).fill(str(DEFAULT_THRESHOLD))
    box = viewer.locator(".xv-port").nth(1).bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    readout = viewer.locator(".xv-readout").inner_text()
    assert "LIME, change in log-odds" in readout and "Grad-CAM relative response: " in readout, readout
    screenshot(page, ARTIFACTS / "viewer.png", height=1100, from_heading="Why")
    page.keyboard.press(SWITCH_LAYERS.lower())
    assert layers_on(page) == []
    note = page.get_by_role("textbox", name="Note (optional)")
    note.fill("")
    note.press(FIT_VIEW.lower())
    note.press(SWITCH_LAYERS.lower())
    assert note.input_value() == f"{FIT_VIEW.lower()}{SWITCH_LAYERS.lower()}" and layers_on(page) == [], \
        "typing in a text box leaves the viewer alone"
    assert page.evaluate("window.scriptRuns") == 0
    page.context.close()
