"""The Celery application both sides share: the web processes send tasks with it, the workers run them."""
from __future__ import annotations

import functools

from celery import Celery

from review.jobs.settings import (
    CONNECT_SECONDS,
    HARD_TIME_LIMIT_SECONDS,
    QUEUE,
    RESULT_SECONDS,
    SOFT_TIME_LIMIT_SECONDS,
    VISIBILITY_SECONDS,
)

TASK_NAME = "xray.run_job"
PROGRESS_STATE = "PROGRESS"  # a task's state while its worker reports progress, with meta {"done": 0..1}


@functools.cache
def celery_app(url: str) -> Celery:
    """Broker and result backend on one Redis; a task is taken one at a time and acknowledged only once done.

    acks_late with reject_on_worker_lost puts a task whose worker process
    died back on the queue for another; prefetch 1 keeps a busy worker from
    holding tasks an idle one could run. JSON only: no pickle from the queue.
    """
    app = Celery("xray_review", broker=url, backend=url)
    app.conf.update(
        task_default_queue=QUEUE,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_track_started=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=SOFT_TIME_LIMIT_SECONDS,
        task_time_limit=HARD_TIME_LIMIT_SECONDS,
        result_expires=RESULT_SECONDS,
        # A Redis that stops answering is reported within seconds, not after redis-py's two minutes.
        broker_transport_options={
            "visibility_timeout": VISIBILITY_SECONDS,
            "socket_timeout": CONNECT_SECONDS,
            "socket_connect_timeout": CONNECT_SECONDS,
        },
        redis_socket_timeout=CONNECT_SECONDS,
        redis_socket_connect_timeout=CONNECT_SECONDS,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=CONNECT_SECONDS,
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
        worker_hijack_root_logger=False,
    )
    return app
