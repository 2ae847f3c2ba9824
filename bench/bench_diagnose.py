"""Speed of the Diagnose page's work on this machine, against the targets of issue 3.

    python bench/bench_diagnose.py [--repeats N] [--cold-starts N] [--image PATH]

Prints the median over repeated runs of: one prediction from the uploaded
bytes (decode, preprocess, network), LIME with the default settings, Grad-CAM,
and the cold start of `streamlit run app.py` until a headless browser shows
the first page, which the app renders only after the model has loaded.
The process's CPU time is printed beside the wall-clock time: when other
work shares the two cores the wall time grows, the CPU time hardly does.
XRAY_MODEL_DIR selects another trained model, as it does for the app.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from model.explain import LimeSettings, explain_with_lime, grad_cam  # noqa: E402
from model.inference import Classifier, load_classifier  # noqa: E402
from model.preprocessing import decode_image  # noqa: E402
from ui.diagnose import sample_paths  # noqa: E402
from ui.resources import artifacts_dir  # noqa: E402

FIRST_PAGE_TEXT = "Upload one or more chest X-rays"
CHROMIUM = "/usr/bin/chromium"
COLD_START_TIMEOUT = 120.0


def median_seconds(action: Callable[[], object], repeats: int, warmup: int = 1) -> tuple[float, float]:
    """Median wall-clock and CPU seconds; CPU over wall shows how much the other workers took."""
    for _ in range(warmup):
        action()
    wall, cpu = [], []
    for _ in range(repeats):
        wall_start, cpu_start = time.perf_counter(), time.process_time()
        action()
        wall.append(time.perf_counter() - wall_start)
        cpu.append(time.process_time() - cpu_start)
    return statistics.median(wall), statistics.median(cpu)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(url: str, server: subprocess.Popen, deadline: float) -> None:
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer")


def cold_start_seconds(browser) -> tuple[float, float]:
    """Seconds until /_stcore/health answers, and until the first page is shown with the model loaded."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = started + COLD_START_TIMEOUT
        wait_for_health(f"http://127.0.0.1:{port}/_stcore/health", server, deadline)
        healthy = time.perf_counter() - started
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/")
        page.get_by_text(FIRST_PAGE_TEXT).wait_for(timeout=1000 * (deadline - time.perf_counter()))
        ready = time.perf_counter() - started
        page.close()
        return healthy, ready
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per measurement (LIME: this many)")
    parser.add_argument("--cold-starts", type=int, default=3)
    parser.add_argument("--image", type=Path, default=sample_paths()[-1])
    args = parser.parse_args()

    classifier: Classifier = load_classifier(artifacts_dir())
    data = args.image.read_bytes()
    model_input = classifier.model_input(decode_image(data, args.image.name).pixels)
    rows = [
        ("prediction of one image (bytes -> probability)", 0.050,
         *median_seconds(lambda: classifier.probability_of(decode_image(data, args.image.name).pixels),
                         args.repeats * 10)),
        (f"LIME, default settings ({LimeSettings().num_samples} samples)", 3.0,
         *median_seconds(lambda: explain_with_lime(classifier, model_input), args.repeats)),
        ("Grad-CAM", 0.150, *median_seconds(lambda: grad_cam(classifier.network, model_input), args.repeats * 10)),
    ]
    if args.cold_starts:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
            starts = [cold_start_seconds(browser) for _ in range(args.cold_starts)]
            browser.close()
        rows.append(("cold start: /_stcore/health answers", None, statistics.median(h for h, _ in starts), None))
        rows.append(("cold start: first page shown, model loaded", 10.0, statistics.median(r for _, r in starts), None))

    print(f"\nModel {classifier.version} ({classifier.image_size} px), image {args.image.name}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; medians")
    print(f"  {'measurement':<48} {'wall':>8} {'CPU':>8} {'target':>8}  met")
    for name, target, wall, cpu in rows:
        cpu_text = "" if cpu is None else f"{cpu * 1000:6.0f}ms"
        target_text = "" if target is None else f"{target * 1000:6.0f}ms"
        verdict = "" if target is None else ("yes" if wall <= target else "NO")
        print(f"  {name:<48} {wall * 1000:6.0f}ms {cpu_text:>8} {target_text:>8}  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
