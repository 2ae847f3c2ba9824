"""The shared store in Redis: finished results by job key, images waiting for a worker, tasks in flight, live workers.

The web processes and the workers of every machine read and write it; no
patient identifier goes in (keys hold the image's SHA-256 and the model version).
"""
from __future__ import annotations

import io

import numpy as np
import redis

from review.jobs.job import Job, JobError
from review.jobs.settings import HARD_TIME_LIMIT_SECONDS, HEARTBEAT_SECONDS, INPUT_SECONDS, QUEUE, RESULT_SECONDS

CONNECT_SECONDS = 3  # a Redis that does not answer in this long is reported down, not waited for
INPUT_PREFIX = "xray:input"
TASK_PREFIX = "xray:task"
WORKER_PREFIX = "xray:worker"


def pack_array(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def unpack_array(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


class StoreUnreachableError(JobError):
    """Redis refused or did not answer; the message says where, never what was asked of it."""


class ResultStore:
    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_SECONDS, socket_timeout=CONNECT_SECONDS)
        self._where = self._redis.connection_pool.connection_kwargs.get("host", "?")

    def _call(self, method: str, *args: object, **kwargs: object) -> object:
        try:
            return getattr(self._redis, method)(*args, **kwargs)
        except redis.RedisError as error:
            raise StoreUnreachableError(f"The explanation store (Redis on {self._where}) did not answer: {error}") from error

    # The codec knows the result types, which import TensorFlow: it is imported where results are read or
    # written (a web process, a worker's pool process), never by a worker's main process before it forks.
    def result(self, job: Job) -> object | None:
        from review.jobs.codec import unpack

        data = self._call("get", job.key)
        return None if data is None else unpack(data)

    def has_result(self, job: Job) -> bool:
        return bool(self._call("exists", job.key))

    def put_result(self, job: Job, result: object) -> None:
        from review.jobs.codec import pack

        self._call("set", job.key, pack(result), ex=RESULT_SECONDS)

    def put_input(self, digest: str, model_input: np.ndarray) -> None:
        self._call("set", f"{INPUT_PREFIX}:{digest}", pack_array(np.asarray(model_input)), ex=INPUT_SECONDS)

    def model_input(self, digest: str) -> np.ndarray | None:
        data = self._call("get", f"{INPUT_PREFIX}:{digest}")
        return None if data is None else unpack_array(data)

    def task_of(self, job: Job) -> str | None:
        """The task already working on `job`, if one was sent (by any web process) and not yet given up."""
        task = self._call("get", f"{TASK_PREFIX}:{job.key}")
        return None if task is None else task.decode()

    def claim(self, job: Job, task_id: str, replace: bool = False) -> str:
        """Name `task_id` as the one working on `job` unless another already is (or `replace`); returns the one."""
        key = f"{TASK_PREFIX}:{job.key}"
        if self._call("set", key, task_id, ex=HARD_TIME_LIMIT_SECONDS * 2, nx=not replace):
            return task_id
        return self.task_of(job) or task_id

    def release(self, job: Job) -> None:
        self._call("delete", f"{TASK_PREFIX}:{job.key}")

    def waiting(self) -> int:
        """Tasks on the queue that no worker has taken yet."""
        return int(self._call("llen", QUEUE))

    def beat(self, worker: str) -> None:
        """A worker process is alive; it counts for three heartbeats."""
        self._call("set", f"{WORKER_PREFIX}:{worker}", b"1", ex=HEARTBEAT_SECONDS * 3)

    def workers(self) -> int:
        """Worker processes alive now, on every machine."""
        return len(self._call("keys", f"{WORKER_PREFIX}:*"))
