"""The explanation worker: `celery --app review.jobs.worker worker` on any machine that can reach the Redis.

TensorFlow is imported only in the pool's child processes, after the fork
(a forked TensorFlow deadlocks): each child loads the model once, in the
background from its start, and runs one task at a time with its share of
the machine's cores. The whole worker runs at a lower priority than the web
processes, so a clinician's call on a shared machine goes first.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

import numpy as np
from celery import Task
from celery.signals import worker_init, worker_process_init

from review.jobs.job import Job, JobError
from review.jobs.queue import PROGRESS_STATE, TASK_NAME, celery_app
from review.jobs.settings import BROKER_ENV, HEARTBEAT_SECONDS, WORKER_NICENESS, broker_url, threads_per_process
from review.jobs.store import ResultStore, StoreUnreachableError

if TYPE_CHECKING:
    from model.inference import Classifier

PROGRESS_EVERY_SECONDS = 0.25  # progress reports to the result backend, at most this often

url = broker_url()
if url is None:
    raise SystemExit(f"Set {BROKER_ENV} (redis://HOST:6379/0) to the Redis the app servers use.")
app = celery_app(url)
log = logging.getLogger(__name__)
_pool_size = 1
_model: Future[Classifier] = Future()
_started = threading.Lock()  # held once this process has started loading the model and its heartbeat
_running: list[str] = []  # the task this process is running, for its heartbeat


@worker_init.connect
def _lower_priority(sender: object, **_: object) -> None:
    """In the worker's main process, before its pool forks: the children inherit the niceness."""
    global _pool_size
    _pool_size = max(1, int(getattr(sender, "concurrency", 1) or 1))
    os.nice(WORKER_NICENESS)


def _load() -> None:
    """Import TensorFlow with this child's share of the cores it was given, and load the model."""
    try:
        import tensorflow as tf

        threads = threads_per_process(_pool_size)
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        from model.inference import load_classifier
        from model.paths import artifacts_dir

        _model.set_result(load_classifier(artifacts_dir()))
        log.info("model loaded with %d threads", threads)
    except Exception as error:  # noqa: BLE001 - whatever failed, each task reports it and the worker stays up
        _model.set_exception(error)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _heartbeat() -> None:
    """Say this process is alive, and which task it runs: the page tells a queue with no worker from a busy one,
    and a task whose worker died from one that is slow."""
    store, name = ResultStore(url), _worker_name()
    while True:
        try:
            store.beat(name, _running[0] if _running else None)
        except StoreUnreachableError as error:
            log.warning("%s %s", error, error.detail)
        time.sleep(HEARTBEAT_SECONDS)


@worker_process_init.connect
def _start_child(**_: object) -> None:
    """Each pool child loads the model in the background (Celery gives a child's start only seconds)."""
    if _started.acquire(blocking=False):
        threading.Thread(target=_load, name="model-loader", daemon=True).start()
        threading.Thread(target=_heartbeat, name="heartbeat", daemon=True).start()


def _progress_reporter(task: Task) -> Callable[[float], None]:
    last = 0.0

    def report(done: float) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_SECONDS or done >= 1.0:
            last = now
            task.update_state(state=PROGRESS_STATE, meta={"done": float(done)})

    return report


@app.task(name=TASK_NAME, bind=True)
def run_job(self: Task, kind: str, digest: str, model_version: str, params: str) -> str:
    """Compute one job into the shared store; returns its key. Done already (another reader asked too): nothing."""
    job = Job(kind, digest, model_version, params)
    store = ResultStore(url)
    if store.has_result(job):
        return job.key
    model_input = store.model_input(digest)
    if model_input is None:
        raise JobError("The image waited too long for a worker and is no longer in the store; open it again.")
    _running[:] = [self.request.id]
    store.beat(_worker_name(), self.request.id)
    try:
        return _run(self, job, store, model_input)
    finally:
        _running.clear()
        store.finished(self.request.id)


def _run(task: Task, job: Job, store: ResultStore, model_input: np.ndarray) -> str:
    report = _progress_reporter(task)
    report(0.0)
    _start_child()  # pools that start no process of their own (threads, gevent) start loading here
    classifier = _model.result()
    # TensorFlow: only in a pool process, after the fork, and after the loading thread's import has finished
    # (two threads importing it at once saw it half-initialised).
    from review.jobs.kinds import run, shown_explanation

    if classifier.version != job.model_version:
        raise JobError(
            f"The workers serve model {classifier.version}, this app server {job.model_version}: "
            "they must run the same model (XRAY_MODEL_DIR)."
        )

    def explanation() -> object:
        shown = shown_explanation(job)
        found = store.result(shown)
        if found is None:
            found = run(shown, classifier, model_input, lambda: None, lambda _: None)  # needs no explanation
            store.put_result(shown, found)
        return found

    store.put_result(job, run(job, classifier, model_input, explanation, report))
    return job.key
