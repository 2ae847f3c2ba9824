"""What a DICOM header says about the study, and the trust flags it raises on the page and in the PDF."""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from model.explain.grad_cam import grad_cam
from model.explain.lime import LimeSettings, explain_with_lime
from model.explain.views import explanation_views
from model.imaging.decode import decode_image, read_image
from model.trust.metadata import (
    AGE_OUTSIDE_TRAINING,
    LATERAL,
    NOT_CHEST,
    NOT_RADIOGRAPH,
    DicomMetadata,
    metadata_flags,
)
from review.access import local_reader
from review.report import summary_lines
from review.triage import assess_files
from tests.inputs import dicom_bytes, gradient

IDENTIFIERS = {"PatientName": "Doe^Jane", "PatientID": "MRN-0042", "PatientBirthDate": "20200115"}


def header(**fields) -> DicomMetadata:
    return decode_image(dicom_bytes(gradient().astype(np.uint16) * 16, **fields), "study.dcm").metadata


def codes(metadata: DicomMetadata) -> list[str]:
    return [flag.code for flag in metadata_flags(metadata)]


def test_a_pediatric_frontal_chest_radiograph_raises_nothing():
    metadata = header(Modality="CR", BodyPartExamined="CHEST", ViewPosition="PA", PatientAge="004Y",
                      PixelSpacing=[0.15, 0.15], **IDENTIFIERS)
    assert codes(metadata) == []
    assert metadata.age_years == pytest.approx(4.0)
    assert metadata.shown_fields() == {
        "Modality": "CR", "Body part": "CHEST", "View": "PA", "Age": "4 years", "Photometric": "MONOCHROME2",
        "Pixel spacing": "0.15 x 0.15 mm",
    }
    assert metadata.identifiers() == {"Patient name": "Doe^Jane", "Patient ID": "MRN-0042", "Birth date": "20200115"}


@pytest.mark.parametrize("modality", ["CT", "MR", "US", "OT"])
def test_other_modalities_are_not_chest_radiographs(modality):
    [flag] = metadata_flags(header(Modality=modality))
    assert flag.code == NOT_RADIOGRAPH and flag.unreliable and f"Modality {modality}" in flag.reason


def test_another_body_part_and_a_lateral_view_are_flagged():
    assert codes(header(Modality="DX", BodyPartExamined="KNEE")) == [NOT_CHEST]
    for fields in ({"ViewPosition": "LL"}, {"ViewPosition": "RL"}, {"ViewPosition": "LATERAL"},
                   {"PatientOrientation": ["A", "F"]}):
        assert codes(header(**fields)) == [LATERAL], fields
    assert codes(header(ViewPosition="AP", PatientOrientation=["L", "F"])) == []


@pytest.mark.parametrize(
    "fields, years",
    [
        ({"PatientAge": "062Y"}, 62.0),
        ({"PatientAge": "018M"}, 1.5),
        ({"PatientAge": "010D"}, 10 / 365.25),
        ({"PatientBirthDate": "20100301", "StudyDate": "20230301"}, 13.0),
    ],
)
def test_age_comes_from_patient_age_or_birth_and_study_dates(fields, years):
    metadata = header(**fields)
    assert metadata.age_years == pytest.approx(years, abs=0.01)
    outside = not 1 <= years <= 5
    assert (AGE_OUTSIDE_TRAINING in codes(metadata)) == outside


def test_an_adults_age_is_said_plainly_but_does_not_grey_the_result():
    [flag] = metadata_flags(header(PatientAge="062Y"))
    assert not flag.unreliable
    assert "62 years old" in flag.reason and "aged 1 to 5" in flag.reason


def test_a_ct_dicom_is_unreliable_and_the_pdf_says_why_without_identifiers(classifier, val_images):
    pixels = read_image(val_images[9][0]).pixels.astype(np.uint16) * 16
    data = dicom_bytes(pixels, Modality="CT", PatientAge="062Y", **IDENTIFIERS)
    [assessment] = assess_files(classifier, [("scan.dcm", data)])
    assert assessment.unreliable
    assert [signal.code for signal in assessment.trust_signals][:2] == [NOT_RADIOGRAPH, AGE_OUTSIDE_TRAINING]
    assert NOT_RADIOGRAPH in assessment.trust_flags
    explanation = explain_with_lime(classifier, assessment.model_input, LimeSettings(num_samples=100))
    cam = grad_cam(classifier.network, assessment.model_input, assessment.label)
    views = explanation_views(assessment.image.pixels, explanation, cam, assessment.label, 3, 0.4)
    text = "\n".join(summary_lines(assessment, explanation, views, classifier.version, local_reader(), datetime.now(UTC),
                                   "Full range"))
    assert "Modality CT" in " ".join(text.split()) and "62 years" in " ".join(text.split())
    assert not any(value in text for value in ("Doe", "MRN-0042", "20200115"))
