"""Server memory over many sequential uploads with explanations, through the browser a clinician uses.

Starts `streamlit run app.py`, opens one headless-Chromium session on the
Diagnose page and uploads distinct X-rays one after another (each replacing
the last), waiting every time for the result and its explanations. After
each it reads the server's resident memory (VmRSS from /proc). The caches
hold at most a fixed number of images, so memory should level off instead of
growing with every upload. Then it uploads --large distinct 8000x8000 X-rays
(the validation originals scaled up): the cache keeps every result at display
size, so they should add little (target: at most 100 MB). Prints the RSS
curve, the growth between upload 10 and the last ordinary upload, and the
growth over the large ones, and keeps them in bench/results/memory.txt.

    python -m bench.memory [--model DIR] [--data DATASET_ROOT] [--uploads 50] [--large 10]
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

from bench.common import PROJECT_ROOT, bench_parser, report
from model.card import read_card
from model.dataset import list_labelled_files
from model.imaging.decode import read_image
from model.paths import ARTIFACTS_ENV
from review.audit import AUDIT_DB_ENV
from tests.browser import launch_chromium, open_diagnose, remove_uploads, streamlit_server, upload, wait_for_result

MIB = 2**20
CROP_STEP = 6
GROWTH_FROM = 10
LARGE_SIDE = 8000
LARGE_GROWTH_LIMIT_MIB = 100


def distinct_uploads(val_dir: Path, count: int, folder: Path, side: int | None = None) -> list[Path]:
    """`count` different JPEGs: the validation X-rays, each round cropped a little more so no two are alike.

    With `side`, each is scaled to side x side pixels.
    """
    originals = list_labelled_files(val_dir).paths
    uploads = []
    for index in range(count):
        source = originals[index % len(originals)]
        crop = CROP_STEP * (index // len(originals))
        pixels = read_image(source).pixels
        pixels = pixels[crop : pixels.shape[0] - crop, crop : pixels.shape[1] - crop]
        image = Image.fromarray(pixels)
        if side is not None:
            image = image.resize((side, side), Image.Resampling.BILINEAR)
        path = folder / f"upload_{index + 1:02d}_{side or 'original'}_{source.stem}.jpeg"
        image.save(path, quality=85)
        uploads.append(path)
    return uploads


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--large", type=int, default=10, help=f"{LARGE_SIDE}x{LARGE_SIDE} uploads after them")
    args = parser.parse_args()
    if args.uploads <= GROWTH_FROM:
        parser.error(f"--uploads must be over {GROWTH_FROM}, where the growth is measured from")
    data_root = args.data or (PROJECT_ROOT / read_card(args.model).data["root"])
    with tempfile.TemporaryDirectory(prefix="memory_bench_") as scratch:
        folder = Path(scratch)
        uploads = distinct_uploads(data_root / "val", args.uploads, folder)
        large = distinct_uploads(data_root / "val", args.large, folder, LARGE_SIDE)
        env = {ARTIFACTS_ENV: str(args.model.resolve()), AUDIT_DB_ENV: str(folder / "audit.sqlite3")}
        with streamlit_server(folder / "streamlit.log", env) as server, sync_playwright() as playwright:
            started = server.rss_bytes()
            browser = launch_chromium(playwright)
            page = open_diagnose(browser, server.url)
            opened = server.rss_bytes()
            rss, seconds = [], []
            for path in uploads + large:
                if rss:
                    remove_uploads(page)
                begin = time.perf_counter()
                upload(page, path)
                wait_for_result(page, path.name)
                seconds.append(time.perf_counter() - begin)
                rss.append(server.rss_bytes())
            browser.close()

    curve = np.asarray(rss) / MIB
    ordinary = len(uploads)
    growth = curve[ordinary - 1] - curve[GROWTH_FROM - 1]
    large_growth = curve[-1] - curve[ordinary - 1] if large else 0.0
    lines = [
        f"Server RSS over {len(uploads)} sequential uploads with explanations (one browser session, default "
        f"LIME settings, distinct images), model {args.model}",
        f"after start {started / MIB:.0f} MiB; Diagnose page open {opened / MIB:.0f} MiB",
        f"median time per ordinary upload to result and explanations {statistics.median(seconds[:ordinary]):.1f} s",
        "",
        "upload  seconds  RSS MiB",
        *(f"{i:6d}  {s:7.1f}  {m:7.0f}" for i, (s, m) in enumerate(zip(seconds, curve), start=1)),
        "",
        f"growth upload {GROWTH_FROM} -> {ordinary}: {growth:+.0f} MiB "
        f"({growth / (ordinary - GROWTH_FROM):+.1f} MiB per upload; {growth / curve[GROWTH_FROM - 1]:+.1%})",
        f"growth over the {len(large)} {LARGE_SIDE}x{LARGE_SIDE} uploads after them (uploads {ordinary + 1}-"
        f"{ordinary + len(large)}): {large_growth:+.0f} MiB (target <= {LARGE_GROWTH_LIMIT_MIB} MiB)",
        f"peak {curve.max():.0f} MiB at upload {int(curve.argmax()) + 1}",
        "",
    ]
    report("\n".join(lines), "memory.txt")


if __name__ == "__main__":
    main()
