"""One lane for the CPU-heavy work of every session, with the clinicians' calls ahead of it.

On a 2-core server, eight sessions explaining at once each got an eighth of
the machine: every explanation took eight times as long, and every call
(decode, score, trust checks: a fraction of a second alone) waited behind
them. Here heavy jobs (an explanation, a stability check, a faithfulness
measure, scoring a labelled folder or archive) run one at a time, first come
first served, and a job pauses at its checkpoints (between network batches)
while any call is running or waiting. Calls run one at a time too: eight at
once each took several seconds of wall time for a quarter of a second of
CPU, and in turn the worst of eight came 2 s sooner (bench/load.py). A job
waiting its turn is told how many are ahead of it, so the page can say so.

No Streamlit here: the queue is shared by every session's script thread of
the process, and testable on its own.
"""
from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

WAIT_REPORT_SECONDS = 1.0


class WorkQueue:
    """Calls go one at a time and hold jobs back; jobs run one at a time in the order they asked."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._line: list[int] = []  # job tickets, the running one first
        self._tickets = itertools.count()
        self._calls = 0
        self._call_turn = threading.Lock()

    @contextmanager
    def call(self) -> Iterator[None]:
        """Around a clinician's call: it waits for the call before it, and jobs pause until both are done.

        Never start a job inside a call: its first checkpoint would wait for the call around it.
        """
        with self._changed:
            self._calls += 1
        try:
            with self._call_turn:
                yield
        finally:
            with self._changed:
                self._calls -= 1
                self._changed.notify_all()

    @contextmanager
    def job(self, on_wait: Callable[[int], None] | None = None) -> Iterator[Callable[[], None]]:
        """Hold the lane for one heavy job; yields the checkpoint to call between its steps.

        While the job waits its turn, on_wait(ahead) is called (outside the
        lock, from the waiting thread) with the number of jobs ahead of it,
        at least every WAIT_REPORT_SECONDS. Leaving early (an exception, a
        Streamlit rerun) gives up the place in line.
        """
        with self._changed:
            ticket = next(self._tickets)
            self._line.append(ticket)
        try:
            while True:
                with self._changed:
                    ahead = self._line.index(ticket)
                    if ahead:
                        self._changed.wait(WAIT_REPORT_SECONDS)
                        ahead = self._line.index(ticket)
                if not ahead:
                    break
                if on_wait is not None:
                    on_wait(ahead)
            self.checkpoint()
            yield self.checkpoint
        finally:
            with self._changed:
                self._line.remove(ticket)
                self._changed.notify_all()

    def checkpoint(self) -> None:
        """Between two steps of a job: wait while any call is running or waiting its turn."""
        with self._changed:
            self._changed.wait_for(lambda: self._calls == 0)

    @property
    def jobs(self) -> int:
        """Jobs running or waiting."""
        with self._changed:
            return len(self._line)


WORK = WorkQueue()
