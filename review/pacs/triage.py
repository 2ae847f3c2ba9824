"""Score the PACS's chest radiographs as the Diagnose page does, and send each result back if asked."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from model.explain.grad_cam import grad_cam
from model.explain.lime import explain_with_lime
from model.explain.views import DEFAULT_REGIONS_SHOWN, explanation_views
from model.inference import Classifier, load_classifier
from model.predict import assessment_row, trust_checks
from model.trust.ood import OodModel
from model.trust.view_checks import Probe
from review.pacs.connect import connect
from review.pacs.connection import Pacs, PacsError, StudyQuery, WorklistImage
from review.pacs.dimse import DimsePacs
from review.pacs.results import result_for
from review.pacs.send import send_result, source_dataset
from review.pacs.settings import PacsSettings
from review.triage import Assessment, assess_files
from review.viewer import DEFAULT_OPACITY


def explained_picture(classifier: Classifier, assessment: Assessment) -> np.ndarray:
    """LIME's strongest regions for and against the call, over the X-ray: the Secondary Capture's picture."""
    explanation = explain_with_lime(classifier, assessment.model_input)
    cam = grad_cam(classifier.network, assessment.model_input, assessment.label)
    return explanation_views(assessment.image.pixels, explanation, cam, assessment.label, DEFAULT_REGIONS_SHOWN,
                             DEFAULT_OPACITY).pros_cons


def found_images(settings: PacsSettings, query: StudyQuery) -> tuple[Pacs, list[WorklistImage]]:
    """The PACS and its chest radiographs matching the query; over DIMSE a C-ECHO first, so a wrong port or AE
    title is said before any search."""
    pacs = connect(settings)
    if isinstance(pacs, DimsePacs):
        pacs.echo()
    return pacs, pacs.search(query)


def triage_rows(pacs: Pacs, images: list[WorklistImage], model_dir: Path, send: bool) -> Iterator[dict]:
    """One row per image, as soon as it is scored (and sent): the call and trust signals, its UIDs, what was sent."""
    classifier = load_classifier(model_dir)
    ood, probes = trust_checks(model_dir)
    for image in images:
        yield _row(pacs, classifier, ood, probes, image, send)


def _row(
    pacs: Pacs, classifier: Classifier, ood: OodModel | None, probes: list[Probe], image: WorklistImage,
    send: bool,
) -> dict:
    identifiers = {"study_instance_uid": image.study_uid, "series_instance_uid": image.series_uid,
                   "sop_instance_uid": image.sop_uid, "accession": image.accession, "sent": ""}
    try:
        data = pacs.retrieve(image)
    except PacsError as error:
        return {**assessment_row(Assessment(image.file_name, "", classifier.point, error=str(error))), **identifiers}
    [assessment] = assess_files(classifier, [(image.file_name, data)], ood, probes)
    row = {**assessment_row(assessment), **identifiers}
    if send and assessment.ok:
        try:
            sent = send_result(pacs, source_dataset(data), result_for(assessment, classifier.version),
                               explained_picture(classifier, assessment), once_per_model=True)
        except PacsError as error:
            row["sent"] = f"not sent: {error}"
        else:
            row["sent"] = "already in the PACS" if sent.already_held else "stored"
    return row
