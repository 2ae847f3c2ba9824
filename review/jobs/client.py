"""A web process's side of the queue: the answer from the shared store, or a task sent and followed to its end.

Following never hangs the page. A worker process that dies mid-task has its
task put back on the queue by Celery, and the page follows it again. What
ends in a JobError instead, each after STALL_SECONDS: no worker alive to take
the task; a task neither queued nor taken (lost with a Redis restart, or a
web process that died before sending it); a task whose worker stopped
beating (gone whole, machine and all).
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import numpy as np
from celery import states
from kombu.exceptions import KombuError
from redis import RedisError

from review.jobs.job import Job, JobError
from review.jobs.queue import PROGRESS_STATE, TASK_NAME, celery_app
from review.jobs.settings import STALL_SECONDS
from review.jobs.store import ResultStore, StoreUnreachableError

POLL_SECONDS = 0.5  # each poll is a few Redis reads and, when something changed, one message to the browser
NO_WORKER = "No explanation worker is running; it waits for one to start."
REQUEUED = "Its worker stopped; it waits for another."


def _meta(task_id: str, url: str) -> dict:
    try:
        return celery_app(url).backend.get_task_meta(task_id)
    except RedisError as error:
        raise StoreUnreachableError("The task queue's results (Redis) did not answer.", str(error)) from error


def _send(store: ResultStore, job: Job, model_input: np.ndarray, url: str, replacing: str | None) -> str:
    """Put the image in the store and the task on the queue, unless another web process just did."""
    store.put_input(job.digest, model_input)
    task_id = str(uuid.uuid4())
    holder = store.claim(job, task_id, replacing)
    if holder != task_id:
        return holder
    try:
        celery_app(url).send_task(TASK_NAME, args=[job.kind, job.digest, job.model_version, job.params],
                                  task_id=task_id)
    except (KombuError, RedisError, OSError) as error:
        store.release(job, task_id)
        raise StoreUnreachableError("The task queue (Redis) refused the explanation.", str(error)) from error
    return task_id


def _task_for(store: ResultStore, job: Job, model_input: np.ndarray, url: str) -> str:
    """The task working on `job`: one already sent and not yet over, else a new one in place of it (one that
    finished without its result in the store, or failed, is sent again)."""
    task_id = store.task_of(job)
    if task_id is not None and _meta(task_id, url)["status"] not in states.READY_STATES:
        return task_id
    return _send(store, job, model_input, url, replacing=task_id)


def _failure(meta: dict) -> JobError:
    error = meta["result"]
    if isinstance(error, JobError):
        return JobError(str(error))
    return JobError("The worker could not do this; try again, and if it fails again tell IT.",
                    f"{type(error).__name__}: {error}")


def run_remotely(
    url: str, job: Job, model_input: np.ndarray, report: Callable[[str, float], None]
) -> object:
    """The result of `job` from the store at once if any reader's request made it, else from a worker.

    report(note, done) is called at every poll while it waits: note says why
    it waits (empty while a worker is on it), done is the worker's progress in
    [0, 1]. It may raise to stop following (a Streamlit rerun does).
    """
    store = ResultStore(url)
    found = store.result(job)
    if found is not None:
        return found
    task_id = _task_for(store, job, model_input, url)
    since = time.monotonic()  # when the task last showed it was alive: queued, taken, or a worker beating for it
    while True:
        meta = _meta(task_id, url)
        status = meta["status"]
        if status == states.SUCCESS:
            found = store.result(job)
            if found is None:
                raise JobError("The worker finished, but its result is no longer in the store; try again.")
            return found
        if status in states.EXCEPTION_STATES:
            store.release(job, task_id)
            raise _failure(meta)
        now = time.monotonic()
        if store.running(task_id):
            since = now
            done = (meta.get("result") or {}).get("done", 0.0) if status == PROGRESS_STATE else 0.0
            report("", float(done))
        elif store.workers() == 0:
            if now - since > STALL_SECONDS:
                raise JobError(f"{NO_WORKER} None did in {STALL_SECONDS} s: ask IT to start one, then try again.")
            report(NO_WORKER, 0.0)
        elif waiting := store.waiting():
            since = now
            report(REQUEUED if status != states.PENDING else f"Waiting for a worker: {waiting} in the queue.", 0.0)
        elif now - since > STALL_SECONDS:
            store.release(job, task_id)
            raise JobError(f"The explanation was lost on its way to a worker, or its worker stopped ({STALL_SECONDS} s "
                           "without a sign of it); try again.")
        else:
            report("Waiting for a worker.", 0.0)
        time.sleep(POLL_SECONDS)
