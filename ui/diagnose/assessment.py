"""The call on each file with its trust checks, computed once per set of files and model, not on every rerun."""
from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence

import streamlit as st

from model.inference import Classifier
from model.paths import artifacts_dir
from model.trust.ood import OodModel, load_ood
from model.trust.view_checks import Probe, load_view_checks
from review.triage import Assessment, assess_files, at_display_size
from ui.resources import classifier


@st.cache_resource(show_spinner=False)
def _ood_detector(directory: str) -> tuple[OodModel | None, str]:
    """The model's out-of-distribution detector, or None and why the page runs without it.

    The reason is cached too, so a model packaged without a detector is not
    searched and hashed again on every rerun.
    """
    unavailable = "Uploads cannot be checked for being unlike the training X-rays"
    try:
        return load_ood(directory), ""
    except FileNotFoundError:
        return None, f"{unavailable}: this model was packaged without that check."
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        return None, f"{unavailable}: {error}"


def ood_detector() -> tuple[OodModel | None, str]:
    return _ood_detector(str(artifacts_dir()))


@st.cache_resource(show_spinner=False)
def _view_checks(directory: str) -> tuple[Probe, ...]:
    """The lateral and adult probes, or none when the model was packaged without them (said on the page)."""
    try:
        return tuple(load_view_checks(directory))
    except (FileNotFoundError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return ()


def view_checks() -> tuple[Probe, ...]:
    return _view_checks(str(artifacts_dir()))


@st.cache_data(show_spinner="Reading, scoring and checking…", max_entries=16)
def _assess(
    files: tuple[tuple[str, bytes], ...], model_version: str, with_ood: bool, with_view_checks: bool,
    _classifier: Classifier, _ood: OodModel | None, _probes: tuple[Probe, ...],
) -> list[Assessment]:
    """Cached per files, model and which image checks ran (the unhashed checks are not in the key), at display size."""
    return [at_display_size(assessment) for assessment in assess_files(_classifier, files, _ood, _probes)]


def assessments(files: Sequence[tuple[str, bytes]]) -> list[Assessment]:
    model = classifier()
    detector, _ = ood_detector()
    probes = view_checks()
    return _assess(tuple(files), model.version, detector is not None, bool(probes), model, detector, probes)
