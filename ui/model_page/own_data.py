"""Scoring a labelled set, an uploaded zip or (admins only) a folder on the server, as one more evaluation set.

A folder is read only under the roots the site opens (XRAY_DATA_ROOTS); anything else gets one
message, so the page tells nobody what else is on the server's disk.
"""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from model.dataset import resolve_evaluation_folder
from model.evaluate import evaluate_folder
from model.evaluation.sets import unique_name
from review.access import Reader
from review.archive import ArchiveError, evaluate_archive, open_labelled_zip
from review.server_folders import DATA_ROOTS_ENV, allowed_folder, data_roots
from ui import state
from ui.copy import OWN_DATA_INTRO
from ui.progress import in_line
from ui.resources import classifier
from ui.text import plain

SKIPPED_LISTED = 10


def score(evaluate: Callable[[Callable[[int, int], None]], dict], taken: list[str]) -> None:
    """Score a labelled set in the shared lane, behind other sessions' work, and keep it for this session."""
    def scored(progress: Callable[[float], None]) -> dict:
        return evaluate(lambda done, total: progress(done / total))

    try:
        report = in_line("Scoring the labelled images…", scored)
    except (FileNotFoundError, ValueError) as error:
        st.error(plain(str(error)))
        return
    report["name"] = unique_name(report["name"], taken)
    st.session_state.setdefault(state.OWN_EVALUATIONS, []).append(report)
    st.session_state[state.OWN_EVALUATION_NOTICE] = report["name"]
    st.rerun()


def scored_notice(name: str) -> None:
    """What the last scoring gave: the new set, and each file left out with its reason, so none is lost silently."""
    report = next(r for r in st.session_state[state.OWN_EVALUATIONS] if r["name"] == name)
    skipped = report["skipped"]
    st.success(plain(
        f"Scored '{name}': {report['n']} images, {len(skipped)} skipped. It is now a tab under Performance and a "
        "choice in the threshold explorer and calibration."
    ))
    if skipped:
        lines = [f"- {plain(entry['file'])}: {plain(entry['reason'])}" for entry in skipped[:SKIPPED_LISTED]]
        if len(skipped) > SKIPPED_LISTED:
            lines.append(f"- and {len(skipped) - SKIPPED_LISTED} more, listed under Performance in the set's tab.")
        st.warning("Skipped:\n" + "\n".join(lines))


def score_folder(text: str, taken: list[str]) -> None:
    """Only a folder under XRAY_DATA_ROOTS; a relative path is read from the first root."""
    try:
        folder = resolve_evaluation_folder(allowed_folder(text, data_roots()))
    except (PermissionError, FileNotFoundError) as error:
        st.error(plain(str(error)))
        return
    score(lambda progress: evaluate_folder(classifier(), folder, progress), taken)


def folder_form(taken: list[str]) -> None:
    """An admin's path box and the folders it may name; own_data_section draws it for admins only."""
    roots = data_roots()
    if not roots:
        st.info(f"Scoring folders on this server is off. To open some, an administrator sets {DATA_ROOTS_ENV} "
                "to their paths, colon-separated.")
        return
    text = st.text_input("Labelled folder on this server", key=state.OWN_FOLDER,
                         placeholder="a folder with NORMAL/ and PNEUMONIA/, under the folders open for scoring")
    st.caption(plain(f"Open for scoring: {', '.join(str(root) for root in roots)}"))
    if st.button("Score folder", key=state.SCORE_FOLDER):
        if text.strip():
            score_folder(text.strip(), taken)
        else:
            st.error("Enter the path of a labelled folder first.")


def score_archive(upload: UploadedFile, taken: list[str]) -> None:
    """An uploaded zip is read member by member from memory; nothing is written to disk."""
    try:
        archive = open_labelled_zip(upload.getvalue(), upload.name)
    except ArchiveError as error:
        st.error(plain(str(error)))
        return
    score(lambda progress: evaluate_archive(classifier(), archive, progress), taken)


def own_data_section(taken: list[str], reader: Reader) -> None:
    """`taken` are the names in use, so a new set gets a name of its own; folders on the server are for admins."""
    st.header("Evaluate your own data")
    st.markdown(OWN_DATA_INTRO)
    if state.OWN_EVALUATION_NOTICE in st.session_state:
        scored_notice(st.session_state.pop(state.OWN_EVALUATION_NOTICE))
    from_zip, from_folder = st.columns(2)
    with from_zip:
        upload = st.file_uploader("A zip holding NORMAL/ and PNEUMONIA/", type=["zip"], key=state.OWN_ZIP)
        if st.button("Score archive", key=state.SCORE_ZIP):
            if upload is not None:
                score_archive(upload, taken)
            else:
                st.error("Choose a zip file first.")
    if reader.is_admin:
        with from_folder:
            folder_form(taken)
