"""The shared lane: heavy jobs one at a time in order, told their place in line, and calls ahead of them."""
from __future__ import annotations

import threading
import time

import pytest

from ui.work_queue import WorkQueue


def test_jobs_run_one_at_a_time_in_the_order_they_asked_and_hear_how_many_are_ahead():
    queue = WorkQueue()
    order: list[int] = []
    heard: dict[int, list[int]] = {}
    running = threading.Event()
    release = threading.Event()

    def job(number: int) -> None:
        with queue.job(lambda ahead: heard.setdefault(number, []).append(ahead)):
            order.append(number)
            if number == 0:
                running.set()
                release.wait(5)

    first = threading.Thread(target=job, args=(0,))
    first.start()
    running.wait(5)
    others = []
    for number in (1, 2):
        others.append(threading.Thread(target=job, args=(number,)))
        others[-1].start()
        time.sleep(0.1)  # so they ask in this order
    time.sleep(1.2)  # long enough for each waiting job to hear its place at least once
    assert queue.jobs == 3
    release.set()
    for thread in [first, *others]:
        thread.join(5)
    assert order == [0, 1, 2]
    assert heard[1][0] == 1 and heard[2][0] == 2
    assert queue.jobs == 0


def test_a_job_pauses_at_its_checkpoint_while_a_call_runs():
    queue = WorkQueue()
    events: list[str] = []
    in_call = threading.Event()
    end_call = threading.Event()

    def call() -> None:
        with queue.call():
            in_call.set()
            end_call.wait(5)
            events.append("call done")

    caller = threading.Thread(target=call)
    caller.start()
    in_call.wait(5)

    def job() -> None:
        with queue.job() as checkpoint:
            checkpoint()
            events.append("job step")

    worker = threading.Thread(target=job)
    worker.start()
    time.sleep(0.3)
    assert events == [], "the job waited for the call"
    end_call.set()
    for thread in (caller, worker):
        thread.join(5)
    assert events == ["call done", "job step"]


def test_leaving_a_job_early_gives_up_its_place():
    """A Streamlit rerun raises inside the waiting session; the next job must not wait for it forever."""
    queue = WorkQueue()
    with pytest.raises(RuntimeError), queue.job():
        raise RuntimeError("rerun")
    assert queue.jobs == 0
    entered = threading.Event()

    def next_job() -> None:
        with queue.job():
            entered.set()

    thread = threading.Thread(target=next_job)
    thread.start()
    assert entered.wait(2), "the next job ran at once"
    thread.join(2)


def test_calls_take_turns():
    queue = WorkQueue()
    inside = []
    overlap = []

    def call(number: int) -> None:
        with queue.call():
            inside.append(number)
            overlap.append(len(inside))
            time.sleep(0.05)
            inside.remove(number)

    threads = [threading.Thread(target=call, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert overlap == [1, 1, 1, 1]
