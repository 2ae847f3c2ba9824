"""Heavy work shown as it goes: its place in the shared lane, then its progress."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from ui.work_queue import WORK

Result = TypeVar("Result")


def in_line(text: str, work: Callable[[Callable[[float], None]], Result]) -> Result:
    """Run heavy `work` in the shared lane (ui.work_queue) under a progress bar that goes once it is done.

    While it waits its turn the bar says how many jobs are ahead; `work`
    reports its progress in [0, 1], and each report is a checkpoint where
    other sessions' calls go first.
    """
    bar = st.progress(0.0, text=text)

    def waiting(ahead: int) -> None:
        bar.progress(0.0, text=f"{text} Waiting for the server: {ahead} {'job' if ahead == 1 else 'jobs'} ahead.")

    try:
        with WORK.job(waiting) as checkpoint:
            bar.progress(0.0, text=text)

            def progress(done: float) -> None:
                checkpoint()
                bar.progress(done, text=text)

            return work(progress)
    finally:
        bar.empty()
