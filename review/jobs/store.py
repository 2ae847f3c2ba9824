"""The shared store in Redis: finished results by job key, images waiting for a worker, tasks in flight, live workers
and the tasks they are running.

The web processes and the workers of every machine read and write it; no
patient identifier goes in (keys hold the image's SHA-256 and the model version).
"""
from __future__ import annotations

import io
import time

import numpy as np
import redis

from review.jobs.job import Job, JobError
from review.jobs.settings import (
    CONNECT_SECONDS,
    HARD_TIME_LIMIT_SECONDS,
    HEARTBEAT_SECONDS,
    INPUT_SECONDS,
    QUEUE,
    RESULT_SECONDS,
)

INPUT_PREFIX = "xray:input"
TASK_PREFIX = "xray:task"
RUNNING_PREFIX = "xray:running"
WORKERS = "xray:workers"  # a sorted set: each worker process by the time of its last heartbeat
ALIVE_SECONDS = HEARTBEAT_SECONDS * 3  # a worker process or a running task counts as alive this long after its beat
# Name `new` as the task working on a job unless another holds the claim; with `old` given, only in place of it.
CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[2] then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
    return ARGV[1]
end
return holder
"""
# Give up a claim only if it is still this task's: a newer one set by another reader stays.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


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
        self._claim = self._redis.register_script(CLAIM)
        self._release = self._redis.register_script(RELEASE)

    def _call(self, method: object, *args: object, **kwargs: object) -> object:
        try:
            return (method if callable(method) else getattr(self._redis, method))(*args, **kwargs)
        except redis.RedisError as error:
            raise StoreUnreachableError(
                f"The explanation store (Redis on {self._where}) did not answer; the explanation cannot be had now.",
                str(error),
            ) from error

    # The codec knows the result types, which import TensorFlow: it is imported where results are read or
    # written (a web process, a worker's pool process), never by a worker's main process before it forks.
    def result(self, job: Job) -> object | None:
        """The stored result, or None; one that no longer decodes (a damaged or foreign entry) is dropped."""
        from review.jobs.codec import unpack

        data = self._call("get", job.key)
        if data is None:
            return None
        try:
            return unpack(data)
        except (ValueError, KeyError, TypeError, OSError):
            self._call("delete", job.key)
            return None

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

    def claim(self, job: Job, task_id: str, replacing: str | None = None) -> str:
        """Name `task_id` as the one working on `job` unless another task holds it (`replacing` may be taken over);
        returns the task that holds it now."""
        holder = self._call(self._claim, keys=[f"{TASK_PREFIX}:{job.key}"],
                            args=[task_id, replacing or "", HARD_TIME_LIMIT_SECONDS * 2])
        return holder.decode() if isinstance(holder, bytes) else str(holder)

    def release(self, job: Job, task_id: str) -> None:
        self._call(self._release, keys=[f"{TASK_PREFIX}:{job.key}"], args=[task_id])

    def waiting(self) -> int:
        """Tasks on the queue that no worker has taken yet."""
        return int(self._call("llen", QUEUE))

    def beat(self, worker: str, task_id: str | None) -> None:
        """A worker process is alive, and so is the task it is running, if any."""
        self._call("zadd", WORKERS, {worker: time.time()})
        if task_id is not None:
            self._call("set", f"{RUNNING_PREFIX}:{task_id}", worker, ex=ALIVE_SECONDS)

    def finished(self, task_id: str) -> None:
        self._call("delete", f"{RUNNING_PREFIX}:{task_id}")

    def running(self, task_id: str) -> bool:
        """Whether a live worker process is running the task now (it beats while it does)."""
        return bool(self._call("exists", f"{RUNNING_PREFIX}:{task_id}"))

    def workers(self) -> int:
        """Worker processes alive now, on every machine; those silent for three heartbeats are dropped."""
        self._call("zremrangebyscore", WORKERS, "-inf", time.time() - ALIVE_SECONDS)
        return int(self._call("zcard", WORKERS))
