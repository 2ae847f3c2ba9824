"""The app's result as new series of the X-ray's own study: a Comprehensive 3D SR (TID 1500, highdicom) and a
Secondary Capture with the explanation and a burned-in banner, for viewers that cannot show SR.

Each result's UIDs are derived from what it says (the source image, the model
version, the reader's recorded read), so storing the same result twice is a
duplicate, not a second result, and a later run can ask the PACS whether it
already holds it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import cv2
import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from model.classes import CLASS_NAMES
from review.triage import Assessment

MANUFACTURER = "Chest X-ray review (decision support)"
ALGORITHM_NAME = "Pneumonia CNN, calibrated"
DECISION_SUPPORT = "AI decision support, not for diagnosis"
SR_SERIES_NUMBER, SC_SERIES_NUMBER = 9901, 9902
SR_DESCRIPTION, SC_DESCRIPTION = "AI pneumonia result (SR)", "AI pneumonia result (image)"
PNEUMONIA = hd.sr.CodedConcept("233604007", "SCT", "Pneumonia")
PRESENT = hd.sr.CodedConcept("52101004", "SCT", "Present")
ABSENT = hd.sr.CodedConcept("272519000", "SCT", "Absent")
CHEST_RADIOGRAPH = hd.sr.CodedConcept("168537006", "SCT", "Plain radiography")
NO_UNITS = hd.sr.CodedConcept("1", "UCUM", "no units")
# No standard code names an operating threshold; a local one, described in the SR's Coding Scheme Identification.
LOCAL_SCHEME = "99XRAYAI"
THRESHOLD = hd.sr.CodedConcept("THRESHOLD", LOCAL_SCHEME, "Operating threshold of the probability")
COMMENT = codes.DCM.Comment
BANNER_SHARE = 0.07  # of the picture's height
READS_IN_WORDS = {"agree": "agrees with the model", "disagree": "disagrees with the model", "unsure": "is unsure"}


@dataclass(frozen=True)
class ReaderRead:
    """The signed-in clinician's recorded read of this image, which verifies the SR."""

    name: str
    read: str  # one of review.audit's READS
    note: str
    recorded_at: str
    organization: str


@dataclass(frozen=True)
class AiResult:
    """What the app concluded about one image, as it goes back to the PACS."""

    label: int
    probability: float
    threshold: float
    model_version: str
    trust_reasons: tuple[str, ...]
    read: ReaderRead | None = None

    def banner(self) -> str:
        return (f"{DECISION_SUPPORT} | model {self.model_version} | P(pneumonia) {self.probability:.1%} | "
                f"threshold {self.threshold:.1%}")


def result_for(assessment: Assessment, model_version: str, read: ReaderRead | None = None) -> AiResult:
    """The page's call on one image, with every trust signal in words, as it goes back to the PACS."""
    return AiResult(
        label=assessment.label, probability=float(assessment.probability), threshold=float(assessment.threshold),
        model_version=model_version,
        trust_reasons=tuple(f"{signal.code}: {signal.reason}" for signal in assessment.trust_signals), read=read,
    )


@dataclass(frozen=True)
class ResultUids:
    sr_series: str
    sr_instance: str
    sc_series: str
    sc_instance: str
    tracking: str


def result_uids(source: pydicom.Dataset, result: AiResult) -> ResultUids:
    """Fixed by the source image, the model version and the read (or its absence): the same result, the same UIDs."""
    read = result.read
    basis = [str(source.SOPInstanceUID), result.model_version,
             f"{read.read}|{read.recorded_at}|{read.name}" if read else "unverified"]
    return ResultUids(*(generate_uid(entropy_srcs=[*basis, part])
                        for part in ("sr-series", "sr-instance", "sc-series", "sc-instance", "tracking")))


def _comments(result: AiResult) -> list[hd.sr.TextContentItem]:
    texts = [f"{DECISION_SUPPORT}: a clinician must review the image and make the call.",
             *(f"Trust flag: {reason}" for reason in result.trust_reasons)]
    if result.read is not None:
        read = result.read
        texts.append(f"Reader {read.name} {READS_IN_WORDS.get(read.read, read.read)} (recorded {read.recorded_at})"
                     + (f"; note: {read.note}" if read.note else "") + ".")
    return [hd.sr.TextContentItem(name=COMMENT, value=text[:1024], relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
            for text in texts]


def structured_report(source: pydicom.Dataset, result: AiResult) -> pydicom.Dataset:
    """TID 1500: pneumonia present or absent, the calibrated probability, the threshold, the algorithm, the trust
    flags in words and the source image; verified by the reader when their read is recorded."""
    uids = result_uids(source, result)
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(entropy_srcs=[ALGORITHM_NAME, result.model_version]), name=ALGORITHM_NAME,
            manufacturer_name=MANUFACTURER, model_name=result.model_version,
        ),
    )
    person = None
    if result.read is not None:
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=result.read.name),
        )
    algorithm = hd.sr.AlgorithmIdentification(name=ALGORITHM_NAME, version=result.model_version)
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=uids.tracking, identifier="Pneumonia call"),
        finding_type=PNEUMONIA,
        algorithm_id=algorithm,
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(PNEUMONIA, PRESENT if result.label == 1 else ABSENT)],
        measurements=[
            hd.sr.Measurement(name=codes.DCM.Probability, value=round(result.probability, 4), unit=NO_UNITS,
                              algorithm_id=algorithm),
            hd.sr.Measurement(name=THRESHOLD, value=round(result.threshold, 4), unit=NO_UNITS),
        ],
        source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)],
    )
    group[0].ContentSequence.extend(_comments(result))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=person, observer_device_context=device),
        procedure_reported=CHEST_RADIOGRAPH,
        imaging_measurements=[group],
    )
    read = result.read
    sr = hd.sr.Comprehensive3DSR(
        evidence=[source], content=report[0], series_instance_uid=uids.sr_series, series_number=SR_SERIES_NUMBER,
        sop_instance_uid=uids.sr_instance, instance_number=1, manufacturer=MANUFACTURER, is_complete=True,
        is_final=read is not None,
        is_verified=read is not None, verifying_observer_name=read.name if read else None,
        verifying_organization=read.organization if read else None, series_description=SR_DESCRIPTION,
    )
    scheme = pydicom.Dataset()
    scheme.CodingSchemeDesignator = LOCAL_SCHEME
    scheme.CodingSchemeName = "Chest X-ray review app, local codes"
    scheme.CodingSchemeResponsibleOrganization = MANUFACTURER
    sr.CodingSchemeIdentificationSequence = [scheme]
    return sr


def with_banner(picture: np.ndarray, text: str) -> np.ndarray:
    """`picture` (RGB uint8) under a black band carrying `text` in white, burned into the pixels."""
    height, width = picture.shape[:2]
    band = max(24, round(height * BANNER_SHARE))
    scale = band / 40
    thickness = max(1, round(scale * 1.5))
    (text_width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    if text_width > width - 16:
        scale *= (width - 16) / text_width
    banner = np.zeros((band, width, 3), np.uint8)
    cv2.putText(banner, text, (8, round(band * 0.68)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                max(1, round(scale * 1.5)), cv2.LINE_AA)
    return np.vstack([banner, picture])


def secondary_capture(source: pydicom.Dataset, explained: np.ndarray, result: AiResult) -> pydicom.Dataset:
    """The explained X-ray (RGB in [0, 1] or uint8) with the banner, as a Secondary Capture of the same study."""
    picture = explained if explained.dtype == np.uint8 else np.rint(np.clip(explained, 0, 1) * 255).astype(np.uint8)
    uids = result_uids(source, result)
    image = hd.sc.SCImage.from_ref_dataset(
        ref_dataset=source, pixel_array=with_banner(picture, result.banner()), photometric_interpretation="RGB",
        bits_allocated=8, coordinate_system="PATIENT", series_instance_uid=uids.sc_series,
        series_number=SC_SERIES_NUMBER, sop_instance_uid=uids.sc_instance, instance_number=1,
        manufacturer=MANUFACTURER, patient_orientation=("L", "F"), series_description=SC_DESCRIPTION,
    )
    image.BurnedInAnnotation = "YES"
    image.Laterality = ""  # a chest is not a paired structure: present, and empty
    image.ImageComments = f"{DECISION_SUPPORT}. {CLASS_NAMES[result.label]}, {result.banner()}"[:10240]
    image.ContentDate, image.ContentTime = datetime.now().strftime("%Y%m%d"), datetime.now().strftime("%H%M%S")
    return image
