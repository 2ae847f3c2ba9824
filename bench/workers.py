"""What an explanation worker machine adds: explanations per second for 1..N worker processes, through the real queue.

For each pool size it starts Redis and `celery --app review.jobs.worker
worker --concurrency P` (one process per core, the cores shared among them,
as deploy/ runs it), warms every process (model loaded), then sends `--jobs`
explanations of distinct images at once at the page's default settings, as
many readers opening new X-rays would, and times them until the last is in
the store. No web process runs, so the figure is the workers' own.

    python -m bench.workers [--processes 1 2] [--jobs 24] [--model DIR] [--data ROOT]

Results in bench/results/workers.txt.
"""
from __future__ import annotations

import hashlib
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import bench_parser, bench_setup, report
from model.dataset import list_labelled_files
from model.explain.lime import LimeSettings
from model.paths import ARTIFACTS_ENV
from review.jobs.client import run_remotely
from review.jobs.job import explanation_job
from review.jobs.settings import cores, threads_per_process
from review.triage import assess_files
from tests.services import celery_worker, redis_server


def timed_explanations(url: str, version: str, inputs: list, salt: str) -> tuple[float, list[float]]:
    """Send every input's explanation at once; wall seconds until all are done, and each one's seconds."""
    def one(index: int) -> float:
        started = time.perf_counter()
        digest = hashlib.sha256(f"{salt}:{index}".encode()).hexdigest()
        run_remotely(url, explanation_job(digest, version, LimeSettings()), inputs[index % len(inputs)],
                     lambda note, done: None)
        return time.perf_counter() - started

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(inputs)) as pool:
        each = list(pool.map(one, range(len(inputs))))
    return time.perf_counter() - started, each


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, cores()])
    parser.add_argument("--jobs", type=int, default=24)
    args = parser.parse_args()
    setup = bench_setup(args)
    paths = list_labelled_files(setup.data_root / "val").paths
    assessed = assess_files(setup.classifier, [(Path(p).name, Path(p).read_bytes()) for p in paths])
    inputs = [assessed[index % len(assessed)].model_input for index in range(args.jobs)]
    lines = [f"{args.jobs} explanations of distinct images sent at once (LIME {LimeSettings().num_samples} samples and "
             f"Grad-CAM for both classes), workers alone on {cores()} cores; seconds until the last is in the store.", "",
             "processes  threads each  wall s  explanations/s  per process/s  median latency s"]
    with tempfile.TemporaryDirectory(prefix="bench_workers_") as scratch:
        for processes in args.processes:
            with redis_server(Path(scratch) / f"redis-{processes}.log") as url, celery_worker(
                url, Path(scratch) / f"worker-{processes}.log", {ARTIFACTS_ENV: str(args.model.resolve())}, processes,
            ):
                timed_explanations(url, setup.classifier.version, inputs[:processes * 2], f"warm-{processes}")
                wall, each = timed_explanations(url, setup.classifier.version, inputs, f"run-{processes}")
            rate = args.jobs / wall
            lines.append(f"{processes:9d}  {threads_per_process(processes):12d}  {wall:6.1f}  {rate:14.2f}  "
                         f"{rate / processes:13.2f}  {statistics.median(each):16.1f}")
    report("\n".join([*lines, ""]), "workers.txt")


if __name__ == "__main__":
    main()
