"""The app's result as new series of the X-ray's own study: a Comprehensive 3D SR (TID 1500, highdicom) and a
Secondary Capture with the explanation and a burned-in banner, for viewers that cannot show SR.

Each result's UIDs are derived from what it holds, so storing the same result
twice is a duplicate, not a second result: its two series from the source
image and the model version (one series of each per model, which a later run
asks the PACS for), the SR from the reader's recorded read too, the Secondary
Capture from its pixels.
"""
from __future__ import annotations

import hashlib
import logging
import warnings
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
logging.getLogger("highdicom").setLevel(logging.ERROR)  # its messages quote the patient header it copies
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


def as_picture(explained: np.ndarray) -> np.ndarray:
    """The explained X-ray (RGB in [0, 1], or uint8) as the Secondary Capture's 8-bit pixels, before the banner."""
    return explained if explained.dtype == np.uint8 else np.rint(np.clip(explained, 0, 1) * 255).astype(np.uint8)


def result_uids(source: pydicom.Dataset, result: AiResult, picture: np.ndarray) -> ResultUids:
    """The same result, the same UIDs: see the module's docstring."""
    image, version = str(source.SOPInstanceUID), result.model_version
    read = result.read
    said = f"{read.read}|{read.recorded_at}|{read.name}|{read.note}" if read else "unverified"
    pixels = hashlib.sha256(np.ascontiguousarray(picture).tobytes()).hexdigest()

    def uid(*parts: str) -> str:
        return generate_uid(entropy_srcs=[image, version, *parts])

    return ResultUids(sr_series=uid("sr-series"), sr_instance=uid("sr-instance", said),
                      sc_series=uid("sc-series"), sc_instance=uid("sc-instance", pixels),
                      tracking=uid("tracking", said))


def _comments(result: AiResult) -> list[hd.sr.TextContentItem]:
    texts = [f"{DECISION_SUPPORT}: a clinician must review the image and make the call.",
             *(f"Trust flag: {reason}" for reason in result.trust_reasons)]
    if result.read is not None:
        read = result.read
        texts.append(f"Reader {read.name} {READS_IN_WORDS.get(read.read, read.read)} (recorded {read.recorded_at})"
                     + (f"; note: {read.note}" if read.note else "") + ".")
    return [hd.sr.TextContentItem(name=COMMENT, value=text[:1024], relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
            for text in texts]


def structured_report(source: pydicom.Dataset, result: AiResult, uids: ResultUids) -> pydicom.Dataset:
    """TID 1500: pneumonia present or absent, the calibrated probability, the threshold, the algorithm, the trust
    flags in words and the source image; verified by the reader when their read is recorded."""
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


def result_objects(
    source: pydicom.Dataset, result: AiResult, picture: np.ndarray, uids: ResultUids, wanted: set[str]
) -> list[pydicom.Dataset]:
    """The SR and the Secondary Capture whose instance UIDs are `wanted`. highdicom copies the patient and study
    from the source, and warns with the patient's name about one it finds odd: those warnings are not passed on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        built = []
        if uids.sr_instance in wanted:
            built.append(structured_report(source, result, uids))
        if uids.sc_instance in wanted:
            built.append(secondary_capture(source, picture, result, uids))
    return built


def with_banner(picture: np.ndarray, text: str) -> np.ndarray:
    """`picture` (RGB uint8) under a black band carrying `text` in white, burned into the pixels."""
    height, width = picture.shape[:2]
    band = max(24, round(height * BANNER_SHARE))
    scale = band / 40

    def stroke() -> int:
        return max(1, round(scale * 1.5))

    (text_width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, stroke())
    if text_width > width - 16:
        scale *= (width - 16) / text_width
    banner = np.zeros((band, width, 3), np.uint8)
    cv2.putText(banner, text, (8, round(band * 0.68)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), stroke(),
                cv2.LINE_AA)
    return np.vstack([banner, picture])


def secondary_capture(
    source: pydicom.Dataset, picture: np.ndarray, result: AiResult, uids: ResultUids
) -> pydicom.Dataset:
    """The explained X-ray (as_picture) with the banner, as a Secondary Capture of the same study."""
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
