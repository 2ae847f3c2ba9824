"""Explanation work for the page: on the task queue where one is configured (XRAY_BROKER_URL), else in this process.

Either way the reader sees a progress bar, and the answer is kept by what
decides it (review.jobs.job.Job): in the shared Redis for every replica, or
in this process's cache for the one-process app.
"""
from __future__ import annotations

import streamlit as st

from model.inference import Classifier
from review.access import Reader
from review.jobs.job import Job, JobError
from review.jobs.kinds import Explanation, run
from review.jobs.settings import broker_url
from review.triage import Assessment
from ui import state
from ui.access import show_problem
from ui.progress import in_line
from ui.resources import classifier


@st.cache_data(show_spinner=False, max_entries=96)  # 32 of each kind, as each had before
def _in_process(
    job: Job, text: str, _classifier: Classifier, _assessment: Assessment, _explanation: Explanation | None
) -> object:
    return in_line(
        text, lambda progress: run(job, _classifier, _assessment.model_input, lambda: _explanation, progress)
    )


def _failed(error: JobError, retry_key: str, reader: Reader) -> None:
    """What went wrong (the system's own words for admins only), and a button that asks again."""
    show_problem(str(error), error.detail, reader, "The task queue")
    st.button("Try again", icon=":material/refresh:", key=retry_key)


def run_job(
    text: str, job: Job, assessment: Assessment, reader: Reader, explanation: Explanation | None = None
) -> object | None:
    """`job`'s result under a progress bar titled `text`; `explanation` is the one shown, for jobs that start from it.

    None when the queue's store is down or its workers fail or vanish: the page says so, with Try again. A
    failure is remembered for this view and asked again only when the reader presses that button, not on every
    rerun (a failure that recurs would otherwise go back to a worker, or wait for one, at every click).
    """
    url = broker_url()
    if url is None:
        return _in_process(job, text, classifier(), assessment, explanation)
    failures = st.session_state.setdefault(state.JOB_FAILURES, {})
    retry_key = state.for_image(state.JOB_RETRY + job.kind, job.digest)
    if job.key in failures and not st.session_state.get(retry_key):
        _failed(failures[job.key], retry_key, reader)
        return None
    failures.pop(job.key, None)
    from review.jobs.client import run_remotely  # Celery: only where a queue is configured

    bar = st.progress(0.0, text=text)
    shown: list[tuple[str, float]] = []

    def report(note: str, done: float) -> None:
        """Each poll is a point where Streamlit may stop this run (a rerun, a closed tab): touching the session
        state is where it looks; the browser gets a message only when the bar changes."""
        _ = state.JOB_FAILURES in st.session_state
        if shown[-1:] != [(note, done)]:
            shown.append((note, done))
            bar.progress(done, text=f"{text} {note}".strip())

    try:
        return run_remotely(url, job, assessment.model_input, report)
    except JobError as error:
        failures[job.key] = error
        _failed(error, retry_key, reader)
        return None
    finally:
        bar.empty()
