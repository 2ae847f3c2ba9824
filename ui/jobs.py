"""Explanation work for the page: on the task queue where one is configured (XRAY_BROKER_URL), else in this process.

Either way the reader sees a progress bar, and the answer is kept by what
decides it (review.jobs.kinds.Job): in the shared Redis for every replica, or
in this process's cache for the one-process app.
"""
from __future__ import annotations

import streamlit as st

from model.inference import Classifier
from review.jobs.job import Job, JobError
from review.jobs.kinds import Explanation, run
from review.jobs.settings import broker_url
from review.triage import Assessment
from ui import state
from ui.progress import in_line
from ui.resources import classifier
from ui.text import plain


@st.cache_data(show_spinner=False, max_entries=32)
def _in_process(
    job: Job, text: str, _classifier: Classifier, _assessment: Assessment, _explanation: Explanation | None
) -> object:
    return in_line(
        text, lambda progress: run(job, _classifier, _assessment.model_input, lambda: _explanation, progress)
    )


def run_job(text: str, job: Job, assessment: Assessment, explanation: Explanation | None = None) -> object:
    """`job`'s result under a progress bar titled `text`; `explanation` is the one shown, for jobs that start from it.

    JobError when the queue's store is down or its workers fail or vanish.
    """
    url = broker_url()
    if url is None:
        return _in_process(job, text, classifier(), assessment, explanation)
    from review.jobs.client import run_remotely  # Celery: only where a queue is configured

    bar = st.progress(0.0, text=text)
    shown: list[tuple[str, float]] = []

    def report(note: str, done: float) -> None:
        if shown[-1:] != [(note, done)]:  # a message to the browser only when the bar changes
            shown.append((note, done))
            bar.progress(done, text=f"{text} {note}".strip())

    try:
        return run_remotely(url, job, assessment.model_input, report)
    finally:
        bar.empty()


def job_failed(error: JobError, job: Job) -> None:
    """What went wrong, and a button that asks again (a rerun: the queue is asked afresh)."""
    st.error(plain(str(error)), icon="🚫")
    st.button("Try again", icon=":material/refresh:", key=state.for_image(state.JOB_RETRY + job.kind, job.digest))
