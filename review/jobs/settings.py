"""The task queue's settings: one environment variable switches it on, the rest are fixed rules of the deployment."""
from __future__ import annotations

import os
from pathlib import Path

BROKER_ENV = "XRAY_BROKER_URL"  # redis://HOST:6379/0 (rediss:// for TLS); unset: explanations in the app's process
WORKER_NICENESS = 19  # workers take the CPU only when the web processes leave it: a reader's call goes first
RESULT_SECONDS = 24 * 3600  # how long a finished explanation stays in Redis for the next reader of that image
INPUT_SECONDS = 3600  # how long an image's network input waits in Redis for a worker to take its task
SOFT_TIME_LIMIT_SECONDS = 300  # one task: LIME at 5,000 samples took about a minute on one core
HARD_TIME_LIMIT_SECONDS = 360
VISIBILITY_SECONDS = 600  # a task taken by a worker that vanished whole goes back on the queue after this
STALL_SECONDS = 45  # a task running without a progress report this long: its worker is taken to be gone
HEARTBEAT_SECONDS = 5  # each worker process says it is alive this often
CGROUP_CPU_MAX = "/sys/fs/cgroup/cpu.max"  # "QUOTA PERIOD" or "max PERIOD" (Kubernetes' CPU limit)
QUEUE = "explanations"
CONNECT_SECONDS = 3  # a Redis that does not answer in this long is reported down, not waited for


def broker_url() -> str | None:
    """The Redis of the task queue and its results, or None for the one-process app."""
    return os.environ.get(BROKER_ENV, "").strip() or None


def cores() -> int:
    """The cores this process may use: its CPU affinity, and in a container its CPU quota (cgroup v2 cpu.max)."""
    available = len(os.sched_getaffinity(0))
    try:
        quota, period = Path(CGROUP_CPU_MAX).read_text().split()
    except (OSError, ValueError):
        return available
    return available if quota == "max" else max(1, min(available, int(quota) // int(period)))


def threads_per_process(pool_size: int) -> int:
    """TensorFlow's threads in each of a worker's `pool_size` processes: the cores shared among them."""
    return max(1, cores() // pool_size)
