"""The PDF report: a real two-page PDF with the facts of the case and the disclaimer."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from PIL import Image
from skimage import data as samples

from model.explain import LimeSettings, explain_with_lime, explanation_views, grad_cam
from model.ood import load_ood
from model.report import build_report, summary_lines
from model.triage import assess_files, interval_text
from tests.conftest import encode

DISCLAIMER = "Decision support only, not a diagnosis."
CREATED = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def case(classifier, val_images):
    path = val_images[-1][0]
    [assessment] = assess_files(classifier, [(path.name, path.read_bytes())])
    explanation = explain_with_lime(classifier, assessment.model_input, LimeSettings(num_samples=120))
    cam = grad_cam(classifier.network, assessment.model_input, assessment.label)
    views = explanation_views(assessment.image.pixels, explanation, cam, assessment.label, 5, 0.4)
    return assessment, explanation, views


def test_report_is_a_two_page_pdf_named_after_the_file(case, classifier):
    assessment, explanation, views = case
    pdf = build_report(assessment, explanation, views, classifier.version, DISCLAIMER, CREATED)
    assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    assert b"/Count 2" in pdf
    assert assessment.name.encode() in pdf and DISCLAIMER.encode() in pdf


def test_summary_states_label_probability_interval_threshold_version_and_date(case, classifier):
    assessment, explanation, views = case
    text = "\n".join(summary_lines(assessment, explanation, views, classifier.version, CREATED))
    assert f"Result: {assessment.label_name}" in text
    assert f"{assessment.probability:.1%}" in text and f"{assessment.threshold:.1%}" in text
    assert classifier.version in text and "2026-01-02 03:04 UTC" in text
    assert f"{explanation.settings.num_samples} samples" in text
    assert interval_text(assessment.uncertainty) in text
    assert "not available for this model" in text, "the case was scored without the image check"


def test_an_unreliable_image_gets_its_reasons_in_the_report(case, classifier, artifacts_dir):
    _, explanation, views = case
    photo = encode(Image.fromarray(samples.astronaut()), "PNG")
    [assessment] = assess_files(classifier, [("astronaut.png", photo)], load_ood(artifacts_dir))
    text = "".join("".join(summary_lines(assessment, explanation, views, classifier.version, CREATED)).split())
    assert "(UNRELIABLE)" in text
    assert all("".join(reason.split()) in text for reason in assessment.ood.reasons), "wrapping aside"
    pdf = build_report(assessment, explanation, views, classifier.version, DISCLAIMER, CREATED)
    assert b"/Count 2" in pdf
