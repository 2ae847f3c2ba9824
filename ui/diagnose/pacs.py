"""The PACS on the Diagnose page: search chest radiographs and open one as if uploaded (pacs_send.py sends back).

Shown only when `.streamlit/secrets.toml` has a [pacs] section, and imported
only then (ui/diagnose/sources.py): the first page stays light. The
worklist and the opened file live in this session's state only. Patient
names and IDs are masked unless the reader shows them; every value from the
PACS is shown as plain text.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

import pandas as pd
import streamlit as st

from review.access import Reader
from review.pacs.connection import MASK, MAX_RESULTS, Pacs, PacsError, StudyQuery, WorklistImage
from review.pacs.settings import PACS_SECTION, PacsSettings, PacsSettingsError, pacs_settings
from ui import state
from ui.access import secret_section, show_problem
from ui.text import plain


def settings() -> PacsSettings:
    return pacs_settings(secret_section(PACS_SECTION))


def connection(settings: PacsSettings) -> Pacs:
    from review.pacs.connect import connect  # dicomweb-client or pynetdicom, and pydicom, once the PACS is asked

    return connect(settings)


def show_failure(error: PacsError, reader: Reader) -> None:
    show_problem(str(error), error.detail, reader, "The PACS connection")


def _worklist_table(images: list[WorklistImage], identifiers: bool) -> pd.DataFrame:
    def shown(value: str) -> str:
        return value if identifiers else (MASK if value else "")

    return pd.DataFrame({
        "study date": [image.shown_date() for image in images],
        "accession": [image.accession for image in images],
        "modality": [image.modality for image in images],
        "view": [image.view for image in images],
        "body part": [image.body_part for image in images],
        "age": [image.age for image in images],
        "patient": [shown(image.patient_name) for image in images],
        "patient ID": [shown(image.patient_id) for image in images],
    })


def _search(settings: PacsSettings, reader: Reader) -> None:
    """A new search replaces the worklist and its table (numbered, so no earlier row choice carries over)."""
    with st.form(state.PACS_SEARCH, border=False):
        accession_column, patient_column, from_column, to_column = st.columns(4)
        accession = accession_column.text_input("Accession number")
        patient_id = patient_column.text_input("Patient ID")
        date_from = from_column.date_input("Study date from", value=None, format="YYYY-MM-DD")
        date_to = to_column.date_input("Study date to", value=None, format="YYYY-MM-DD")
        searched = st.form_submit_button("Search the PACS", icon=":material/search:")
    if not searched:
        return
    st.session_state[state.PACS_SEARCHES] = st.session_state.get(state.PACS_SEARCHES, 0) + 1
    st.session_state.pop(state.PACS_WORKLIST, None)
    query = StudyQuery(accession=accession, patient_id=patient_id, date_from=date_from, date_to=date_to)
    try:
        with st.spinner("Searching the PACS…"):
            st.session_state[state.PACS_WORKLIST] = connection(settings).search(query)
    except PacsError as error:
        show_failure(error, reader)


def _choose(table_key: str, images: list[WorklistImage]) -> None:
    """A row chosen (not merely still chosen) is wanted once: retrieved on this run, not retried on later ones."""
    rows = st.session_state[table_key].selection.rows
    if rows:
        st.session_state[state.PACS_WANTED] = images[rows[0]]


def _open(wanted: WorklistImage, site: PacsSettings, reader: Reader, on_open: Callable[[], None]) -> None:
    try:
        with st.spinner("Retrieving the image from the PACS…"):
            data = connection(site).retrieve(wanted)
    except PacsError as error:
        show_failure(error, reader)
        return
    st.session_state[state.PACS_OPEN] = (wanted, data)
    on_open()


def pacs_source(reader: Reader, on_open: Callable[[], None], showing_pacs: bool) -> None:
    """The search form and worklist; choosing an image retrieves it and calls on_open() to make it the page's.
    `showing_pacs`: the page shows the image opened from the PACS (else a button brings it back)."""
    try:
        site = settings()
    except PacsSettingsError as error:
        st.warning(plain(f"The PACS is not available: {error}"), icon="⚠️")
        return
    if not site.configured:
        return
    panel = st.expander("…or open a chest X-ray from the PACS", key=state.PACS_PANEL, on_change="rerun")
    if not panel.open:
        return
    with panel:
        _search(site, reader)
        if (wanted := st.session_state.pop(state.PACS_WANTED, None)) is not None:
            _open(wanted, site, reader, on_open)
        opened = st.session_state.get(state.PACS_OPEN)
        if opened is not None and not showing_pacs:
            st.button(f"Back to the image opened from the PACS ({opened[0].accession or 'no accession'})",
                      on_click=on_open, icon=":material/undo:")
        if state.PACS_WORKLIST not in st.session_state:
            return
        images: list[WorklistImage] = st.session_state[state.PACS_WORKLIST]
        if not images:
            st.info("The PACS holds no chest radiograph (CR or DX) matching this search.")
            return
        if len(images) > MAX_RESULTS:
            st.warning(f"More than {MAX_RESULTS} images match: the first {MAX_RESULTS} are listed; narrow the search.")
            images = images[:MAX_RESULTS]
        identifiers = st.toggle("Show patient identifiers", key=state.PACS_IDENTIFIERS)
        table_key = f"{state.PACS_TABLE}_{st.session_state.get(state.PACS_SEARCHES, 0)}_{identifiers}"
        st.dataframe(
            _worklist_table(images, identifiers), hide_index=True, selection_mode="single-row", key=table_key,
            on_select=functools.partial(_choose, table_key, images),
        )
        st.caption("Choose a row to open the image as if it were uploaded.")


def opened_file() -> tuple[str, bytes] | None:
    opened = st.session_state.get(state.PACS_OPEN)
    return None if opened is None else (opened[0].file_name, opened[1])
