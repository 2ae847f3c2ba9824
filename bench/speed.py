"""Speed of the app on this machine against its targets, in a real browser where a clinician sees it.

    python -m bench.speed [--repeats 5] [--uploads 6] [--cold-starts 3] [--model-page-visits 4]

In process: LIME with the page's default settings and with 1000 samples (the
target's count), one prediction from the uploaded bytes, Grad-CAM; and how
far the explanations' arithmetic (bfloat16 where the CPU has it,
model.precision) strays from float32, in which every call is made, on the
validation split and the calibration sample: |delta logit| <= 0.1.
In headless Chromium against `streamlit run app.py`: the cold start until
the first page shows the uploader (the model loads in the background), and
the first visit to a just-started server alone; the first page in a new
session on the warm server; uploads of distinct full-resolution X-rays,
timed to the call (label and probability on screen), to the fully
explained page, and for the viewer to redraw the X-ray inverted (until the
server has sent that rerun, and until the browser has drawn it); and the
Model & data page in a new session, its first visit after the server
started and later ones. Medians, with the worst upload.
Writes bench/results/speed.txt.
"""
from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, sync_playwright

from bench.common import (
    CALIBRATION_FOLDER,
    bench_parser,
    bench_setup,
    median_seconds,
    report,
)
from model.dataset import list_labelled_files
from model.explain.grad_cam import grad_cam
from model.explain.lime import LimeSettings, explain_with_lime
from model.imaging.decode import decode_image, read_image
from model.paths import ARTIFACTS_ENV
from model.precision import cpu_description
from review.audit import AUDIT_DB_ENV
from tests.browser import (
    EXPLANATION_IMAGES,
    RESULT_READY,
    VIEWER_ROOT,
    launch_chromium,
    open_diagnose,
    open_model_page,
    streamlit_server,
    upload,
    wait_until_idle,
)

LOGIT_TOLERANCE = 0.1
LIME_TARGET_SAMPLES = 1000
TARGETS = {
    "LIME": 1.2,
    "call": 2.0,
    "explained": 2.5,
    "first page": 2.0,
    "model page": 5.0,
    "viewer": 0.3,
}
# The viewer's X-ray, as the browser holds it: it changes when a window or invert is drawn anew.
VIEWER_SOURCE = f"() => document.querySelector('{VIEWER_ROOT} img.xv-xray')?.src"
# True once the call for `name` is on screen: its heading and the Result metric of this run.
CALL_SHOWN = """(name) => {
    const fresh = (selector) => [...document.querySelectorAll(selector)]
        .filter((e) => !e.closest('[data-stale="true"]'));
    if (document.querySelector('[data-testid="stException"]')) return true;
    return fresh('[data-testid="stHeading"]').some((h) => h.innerText.trim() === name)
        && fresh('[data-testid="stMetricLabel"]').some((m) => m.innerText.trim() === 'Result');
}"""


def precision_agreement(setup) -> list[str]:
    """The explanations' arithmetic against float32, the calls' arithmetic, on the validation split and later X-rays.

    A flipped label here would be a wrong call if the page scored in that
    arithmetic; it does not (Classifier.logits is float32), but it bounds how
    far LIME's original sample may sit from the page's number.
    """
    fast = setup.classifier
    sets = {
        "validation split": [setup.data_root / name for name in setup.validation.files],
        "calibration sample": list_labelled_files(setup.data_root / CALIBRATION_FOLDER).paths,
    }
    lines = []
    for name, paths in sets.items():
        inputs = np.stack([fast.model_input(read_image(path).pixels) for path in paths])
        explained, exact = fast.log_odds(inputs) * fast.temperature, fast.logits(inputs)
        calls = [
            fast.point.calls(fast.point.probabilities(logits))
            for logits in (explained, exact)
        ]
        delta = np.abs(explained - exact)
        lines.append(
            f"explanations in {fast.precision} against float32 on the {len(inputs)} images of the {name}: "
            f"{int(np.sum(calls[0] != calls[1]))} labels would differ, |delta logit| median {np.median(delta):.4f}, "
            f"max {delta.max():.4f} (target <= {LOGIT_TOLERANCE}: "
            f"{'met' if delta.max() <= LOGIT_TOLERANCE else 'NOT met'}); calls are made in float32"
        )
    return lines


def timed_upload(browser, url: str, path: Path) -> tuple[float, float, float, float]:
    """Seconds from choosing the file to the call on screen and to the fully explained page; then, for the viewer
    to draw the X-ray inverted (a rerun of its fragment: window, PNG, figure), until the server's last message of
    that run (its websocket) and until the browser has drawn it and the page is idle."""
    received: list[float] = []

    def listen(page: Page) -> None:
        page.on("websocket", lambda socket: socket.on("framereceived", lambda _: received.append(time.perf_counter())))

    page: Page = open_diagnose(browser, url, listen)
    try:
        started = time.perf_counter()
        upload(page, path)
        page.wait_for_function(CALL_SHOWN, arg=path.name, timeout=240_000, polling=50)
        call = time.perf_counter() - started
        page.wait_for_function(RESULT_READY, arg=[path.name, EXPLANATION_IMAGES], timeout=240_000, polling=50)
        explained = time.perf_counter() - started
        wait_until_idle(page, polling=10)
        before = page.evaluate(VIEWER_SOURCE)
        started = time.perf_counter()
        page.get_by_text("Invert", exact=True).click()
        page.wait_for_function(f"(s) => ({VIEWER_SOURCE})() !== s", arg=before, polling=10)
        wait_until_idle(page, polling=10)
        drawn = time.perf_counter() - started
        return call, explained, received[-1] - started, drawn
    finally:
        page.context.close()


def first_page_seconds(browser, url: str) -> float:
    started = time.perf_counter()
    open_diagnose(browser, url).context.close()
    return time.perf_counter() - started


def model_page_seconds(browser, url: str) -> float:
    page = open_diagnose(browser, url)
    try:
        started = time.perf_counter()
        open_model_page(page)
        wait_until_idle(page, polling=50)
        return time.perf_counter() - started
    finally:
        page.context.close()


def line(name: str, seconds: float, target: float | None = None, worst: float | None = None) -> str:
    worst_text = "" if worst is None else f"{worst:7.2f}s"
    target_text = "" if target is None else f"{target:6.1f}s  {'yes' if seconds <= target else 'NO'}"
    return f"  {name:<58} {seconds:7.2f}s {worst_text:>8} {target_text}"


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs of each in-process measurement")
    parser.add_argument("--uploads", type=int, default=6, help="distinct X-rays uploaded, one session each")
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--model-page-visits", type=int, default=4)
    args = parser.parse_args()
    setup = bench_setup(args)
    classifier = setup.classifier
    originals = list_labelled_files(setup.data_root / "val").paths
    image = originals[-1]
    data = image.read_bytes()
    model_input = classifier.model_input(decode_image(data, image.name).pixels)
    lines = [
        f"model {classifier.version}, predictor {classifier.precision}; {os.cpu_count()} CPUs, {cpu_description()}; "
        f"load average {os.getloadavg()[0]:.1f}; medians (worst where shown)",
        f"  {'measurement':<58} {'median':>8} {'worst':>8} {'target':>7}  met",
        line(f"LIME, page defaults ({LimeSettings().num_samples} samples)",
             median_seconds(lambda: explain_with_lime(classifier, model_input), args.repeats)),
        line(f"LIME, {LIME_TARGET_SAMPLES} samples",
             median_seconds(lambda: explain_with_lime(classifier, model_input, LimeSettings(
                 num_samples=LIME_TARGET_SAMPLES)), args.repeats), TARGETS["LIME"]),
        line("prediction of one image (bytes -> probability)",
             median_seconds(lambda: classifier.probability_of(decode_image(data, image.name).pixels), args.repeats)),
        line("Grad-CAM", median_seconds(lambda: grad_cam(classifier.network, model_input), args.repeats)),
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as scratch:
        browser = launch_chromium(playwright)
        env = {ARTIFACTS_ENV: str(setup.artifacts_dir), AUDIT_DB_ENV: str(Path(scratch) / "audit.sqlite3")}
        cold, first = [], []
        for start in range(args.cold_starts):
            started = time.perf_counter()
            with streamlit_server(Path(scratch) / f"cold{start}.log", env) as server:
                first.append(first_page_seconds(browser, server.url))
                cold.append(time.perf_counter() - started)
        lines.append(line("cold server start -> first page (uploader shown)", statistics.median(cold)))
        lines.append(line("first visit to a just-started server -> uploader", statistics.median(first),
                          TARGETS["first page"], max(first)))
        with streamlit_server(Path(scratch) / "warm.log", env) as server:
            timed_upload(browser, server.url, originals[0])  # the model loaded and every page's code imported
            warm = [first_page_seconds(browser, server.url) for _ in range(args.repeats)]
            lines.append(line("first page in a new session (warm server)", statistics.median(warm),
                              TARGETS["first page"], max(warm)))
            model_first = model_page_seconds(browser, server.url)
            model_later = [model_page_seconds(browser, server.url) for _ in range(args.model_page_visits)]
            lines.append(line("Model & data page, first visit after the server started", model_first))
            lines.append(line("Model & data page, later visits (new sessions)", statistics.median(model_later),
                              TARGETS["model page"], max(model_later)))
            uploads = [timed_upload(browser, server.url, path) for path in originals[1 : 1 + args.uploads]]
            calls, explained, served, drawn = ([timing[index] for timing in uploads] for index in range(4))
            lines.append(line(f"upload -> call on screen ({len(uploads)} distinct X-rays)", statistics.median(calls),
                              TARGETS["call"], max(calls)))
            lines.append(line("upload -> fully explained page", statistics.median(explained), TARGETS["explained"],
                              max(explained)))
            lines.append(line("viewer: invert -> the server's rerun sent (fragment)", statistics.median(served),
                              TARGETS["viewer"], max(served)))
            lines.append(line("viewer: invert -> drawn in the browser, page idle", statistics.median(drawn),
                              worst=max(drawn)))
        browser.close()
    lines += precision_agreement(setup)
    report("\n".join(lines) + "\n", "speed.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
