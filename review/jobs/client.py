"""A web process's side of the queue: the answer from the shared store, or a task sent and followed to its end.

Following never hangs the page: a task that no worker takes while none is
alive, or that stops reporting progress (its worker gone whole), ends in a
JobError naming what happened; a worker process that dies mid-task has its
task put back on the queue by Celery, and the page follows it again.
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

POLL_SECONDS = 0.5  # each poll is two Redis reads and, when something changed, one message to the browser
NO_WORKER = "No explanation worker is running; it waits for one to start."


def _meta(task_id: str, url: str) -> dict:
    try:
        return celery_app(url).backend.get_task_meta(task_id)
    except RedisError as error:
        raise StoreUnreachableError(f"The task queue's results (Redis) did not answer: {error}") from error


def _send(store: ResultStore, job: Job, model_input: np.ndarray, url: str, replace: bool) -> str:
    """Put the image in the store and the task on the queue, unless another web process just did."""
    store.put_input(job.digest, model_input)
    task_id = str(uuid.uuid4())
    claimed = store.claim(job, task_id, replace=replace)
    if claimed != task_id:
        return claimed
    try:
        celery_app(url).send_task(TASK_NAME, args=[job.kind, job.digest, job.model_version, job.params],
                                  task_id=task_id)
    except (KombuError, RedisError, OSError) as error:
        store.release(job)
        raise StoreUnreachableError(f"The task queue (Redis) refused the explanation: {error}") from error
    return task_id


def _task_for(store: ResultStore, job: Job, model_input: np.ndarray, url: str) -> str:
    """The task working on `job`: one already sent and still alive, else a new one."""
    task_id = store.task_of(job)
    if task_id is not None and _meta(task_id, url)["status"] not in states.READY_STATES:
        return task_id
    return _send(store, job, model_input, url, replace=task_id is not None)


def run_remotely(
    url: str, job: Job, model_input: np.ndarray, report: Callable[[str, float], None]
) -> object:
    """The result of `job` from the store at once if any reader's request made it, else from a worker.

    report(note, done) is called while it waits: note says why it waits
    (empty while a worker is on it), done is the worker's progress in [0, 1].
    """
    store = ResultStore(url)
    found = store.result(job)
    if found is not None:
        return found
    task_id = _task_for(store, job, model_input, url)
    seen, changed = None, time.monotonic()
    while True:
        meta = _meta(task_id, url)
        status = meta["status"]
        if status == states.SUCCESS:
            found = store.result(job)
            if found is None:
                raise JobError("The worker finished, but its result is no longer in the store; try again.")
            return found
        if status in states.READY_STATES:
            store.release(job)
            raise JobError(f"The worker could not do this: {meta['result']}")
        done = float((meta.get("result") or {}).get("done", 0.0)) if status == PROGRESS_STATE else 0.0
        now = time.monotonic()
        if (status, done) != seen:
            seen, changed = (status, done), now
        if status == states.PENDING:
            if store.workers() == 0:
                if now - changed > STALL_SECONDS:
                    raise JobError(f"{NO_WORKER} None did in {STALL_SECONDS} s: ask IT to start one, then try again.")
                report(NO_WORKER, 0.0)
            else:
                waiting = store.waiting()
                report(f"Waiting for a worker: {waiting} in the queue." if waiting else "Waiting for a worker.", 0.0)
        elif now - changed > STALL_SECONDS:
            store.release(job)
            raise JobError(f"The worker explaining this image stopped answering ({STALL_SECONDS} s without "
                           "progress); try again.")
        else:
            report("", done)
        time.sleep(POLL_SECONDS)
