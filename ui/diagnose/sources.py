"""Where the Diagnose page's files come from: uploads, a bundled sample, a file another page sent for review, or an
image opened from the PACS."""
from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import streamlit as st

from model.imaging.formats import FORMAT_NAMES, IMAGE_SUFFIXES, image_files
from model.paths import SAMPLES_DIR
from review.access import Reader
from review.pacs.settings import PACS_SECTION
from ui import state
from ui.access import secret_section
from ui.text import plain

UPLOAD_TYPES = sorted(suffix.lstrip(".") for suffix in IMAGE_SUFFIXES)
# The values of state.SOURCE: the source the user touched last wins.
FROM_UPLOAD, FROM_SAMPLE, FROM_REVIEW, FROM_PACS = "upload", "sample", "review", "pacs"


def pacs_configured() -> bool:
    """A [pacs] section is there (valid or not: a wrong one is reported where the PACS would be)."""
    return bool(secret_section(PACS_SECTION))


def _choose_source(source: str) -> None:
    st.session_state[state.SOURCE] = source


def sample_paths() -> list[Path]:
    return image_files(SAMPLES_DIR)


def _take_review_request() -> None:
    """Honour another page's request (state.REVIEW_PATH) once, then forget it."""
    if state.REVIEW_PATH not in st.session_state:
        return
    path = Path(st.session_state.pop(state.REVIEW_PATH))
    try:
        st.session_state[state.PINNED_FILE] = (path.name, path.read_bytes())
    except OSError as error:
        st.error(plain(f"'{path.name}' could not be opened for review ({error.strerror})."))
        return
    st.session_state[state.SOURCE] = FROM_REVIEW


def chosen_files(reader: Reader) -> list[tuple[str, bytes]]:
    """The (name, bytes) pairs to assess, from the source the user touched last."""
    _take_review_request()
    uploads = st.file_uploader(
        f"Chest X-rays: {FORMAT_NAMES}; several at once give a triage list",
        type=UPLOAD_TYPES,
        accept_multiple_files=True,
        key=state.UPLOADS,
        on_change=_choose_source,
        args=(FROM_UPLOAD,),
    )
    samples = {path.name: path for path in sample_paths()}
    sample = st.selectbox(
        "…or try a sample",
        list(samples),
        index=None,
        placeholder="Choose a sample X-ray (validation images the model never trained on)",
        key=state.SAMPLE,
        on_change=_choose_source,
        args=(FROM_SAMPLE,),
    )
    if pacs_configured():
        from ui.diagnose.pacs import opened_file, pacs_source  # only where a PACS is configured

        pacs_source(reader, lambda: _choose_source(FROM_PACS), st.session_state.get(state.SOURCE) == FROM_PACS)
        if st.session_state.get(state.SOURCE) == FROM_PACS and (opened := opened_file()) is not None:
            return [opened]
    source = st.session_state.get(state.SOURCE)
    if source == FROM_REVIEW and state.PINNED_FILE in st.session_state:
        return [st.session_state[state.PINNED_FILE]]
    if sample and (source == FROM_SAMPLE or not uploads):
        return [(sample, samples[sample].read_bytes())]
    return [(upload.name, upload.getvalue()) for upload in uploads or []]


def no_files_yet() -> NoReturn:
    """A hint, and the end of the page."""
    st.info("Upload one or more chest X-rays, or try a sample, to get the model's call and its explanation.")
    st.stop()
