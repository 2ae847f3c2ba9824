"""What a DICOM header says about the study, and the trust flags it raises before the network is asked.

The model knows frontal (PA or AP) chest radiographs of children aged 1 to 5.
A DICOM header can say plainly that an upload is something else: another
modality (CT, MR, US, a secondary capture), another body part, a lateral
view, an adult. Each such finding is a TrustFlag with a short code (for the
batch CSV) and a plain reason (for the page and the PDF). Patient
identifiers are read so the page can show them on request, and nowhere else.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import pydicom
from pydicom.multival import MultiValue

from model.trust.trained_ages import TRAINED_AGES_YEARS

RADIOGRAPH_MODALITIES = {"CR": "computed radiography", "DX": "digital radiography"}
MODALITY_NAMES = {
    "CT": "computed tomography", "MR": "magnetic resonance", "US": "ultrasound", "OT": "other (a secondary capture)",
    "SC": "secondary capture", "NM": "nuclear medicine", "PT": "PET", "MG": "mammography", "XA": "angiography",
    "RF": "fluoroscopy", "DR": "digital radiography", "OP": "ophthalmic photography", "XC": "photography",
}
CHEST_BODY_PARTS = {"CHEST", "THORAX", "LUNG", "LUNGS", "TORAX", "THORAX/CHEST"}
FRONTAL_VIEWS = {"PA", "AP"}
LATERAL_VIEWS = {"LL", "RL", "LAT", "LATERAL", "LLD", "RLD"}
TRAINED_AGE_RANGE_TEXT = (
    f"the model was trained only on children aged {TRAINED_AGES_YEARS[0]:.0f} to {TRAINED_AGES_YEARS[1]:.0f}, whose "
    "chests differ in proportions, ribs and heart size."
)
TRUSTED_AGE_TEXT = f"{TRAINED_AGE_RANGE_TEXT} Its answer has not been tested at this age."
AGE_UNITS_PER_YEAR = {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}

NOT_RADIOGRAPH = "not-radiograph"
NOT_CHEST = "not-chest"
LATERAL = "lateral"
AGE_OUTSIDE_TRAINING = "age-outside-training"


@dataclass(frozen=True)
class TrustFlag:
    """One reason not to take the model's answer at face value: a short code and a plain sentence."""

    code: str
    reason: str
    unreliable: bool = True


@dataclass(frozen=True)
class DicomMetadata:
    """The header fields the app uses; identifiers are kept apart so they are shown only on request."""

    modality: str = ""
    body_part: str = ""
    view_position: str = ""
    patient_orientation: str = ""
    age_years: float | None = None
    photometric: str = ""
    pixel_spacing_mm: tuple[float, float] | None = None
    patient_name: str = ""
    patient_id: str = ""
    birth_date: str = ""

    def shown_fields(self) -> dict[str, str]:
        """The non-identifying fields, as the page's metadata panel lists them."""
        spacing = (
            f"{self.pixel_spacing_mm[0]:.3g} x {self.pixel_spacing_mm[1]:.3g} mm" if self.pixel_spacing_mm else ""
        )
        return {
            "Modality": self.modality, "Body part": self.body_part,
            "View": self.view_position or self.patient_orientation,
            "Age": "" if self.age_years is None else describe_age(self.age_years),
            "Photometric": self.photometric, "Pixel spacing": spacing,
        }

    def identifiers(self) -> dict[str, str]:
        return {"Patient name": self.patient_name, "Patient ID": self.patient_id, "Birth date": self.birth_date}


# Header strings are the sender's: kept short so a hostile file cannot fill the page or the PDF.
MAX_FIELD_LENGTH = 64


def _text(dataset: pydicom.Dataset, keyword: str) -> str:
    try:
        value = dataset.get(keyword)
    except (ValueError, TypeError, KeyError, AttributeError, OSError):
        return ""
    if value is None:
        return ""
    text = "\\".join(str(item) for item in value) if isinstance(value, MultiValue) else str(value)
    return text.strip()[:MAX_FIELD_LENGTH]


def _dicom_date(text: str) -> date | None:
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def age_in_years(dataset: pydicom.Dataset) -> float | None:
    """PatientAge ("004Y", "018M", "010D"), else PatientBirthDate with StudyDate (or AcquisitionDate)."""
    match = re.fullmatch(r"(\d{1,3})\s*([DWMY])", _text(dataset, "PatientAge").upper())
    if match:
        return int(match.group(1)) / AGE_UNITS_PER_YEAR[match.group(2)]
    born = _dicom_date(_text(dataset, "PatientBirthDate"))
    taken = _dicom_date(_text(dataset, "StudyDate") or _text(dataset, "AcquisitionDate"))
    if born is None or taken is None or taken < born:
        return None
    return (taken - born).days / AGE_UNITS_PER_YEAR["D"]


def describe_age(years: float) -> str:
    return f"{years * 12:.0f} months" if years < 2 else f"{years:.0f} years"


def pixel_spacing_of(dataset: pydicom.Dataset) -> tuple[float, float] | None:
    try:
        spacing = dataset.get("PixelSpacing") or dataset.get("ImagerPixelSpacing")
        return (float(spacing[0]), float(spacing[1])) if spacing is not None and len(spacing) == 2 else None
    except (TypeError, ValueError, KeyError, AttributeError, OSError):
        return None


def read_metadata(dataset: pydicom.Dataset) -> DicomMetadata:
    return DicomMetadata(
        modality=_text(dataset, "Modality").upper(),
        body_part=_text(dataset, "BodyPartExamined").upper(),
        view_position=_text(dataset, "ViewPosition").upper(),
        patient_orientation=_text(dataset, "PatientOrientation").upper(),
        age_years=age_in_years(dataset),
        photometric=_text(dataset, "PhotometricInterpretation").upper(),
        pixel_spacing_mm=pixel_spacing_of(dataset),
        patient_name=_text(dataset, "PatientName"),
        patient_id=_text(dataset, "PatientID"),
        birth_date=_text(dataset, "PatientBirthDate"),
    )


def is_lateral(metadata: DicomMetadata) -> bool:
    """ViewPosition LL/RL/LATERAL, or a PatientOrientation whose row axis runs front to back (A or P)."""
    if metadata.view_position in LATERAL_VIEWS:
        return True
    if metadata.view_position in FRONTAL_VIEWS:
        return False
    rows = metadata.patient_orientation.replace("\\", " ").split()
    return bool(rows) and rows[0][:1] in {"A", "P"}


def metadata_flags(metadata: DicomMetadata) -> list[TrustFlag]:
    """What the header says against judging this image, in the order a reader should hear it."""
    flags: list[TrustFlag] = []
    if metadata.modality and metadata.modality not in RADIOGRAPH_MODALITIES:
        name = MODALITY_NAMES.get(metadata.modality, "not a radiograph")
        flags.append(TrustFlag(
            NOT_RADIOGRAPH,
            f"The DICOM header says Modality {metadata.modality} ({name}); the model only reads chest "
            "radiographs (CR or DX).",
        ))
    if metadata.body_part and metadata.body_part not in CHEST_BODY_PARTS:
        flags.append(TrustFlag(
            NOT_CHEST, f"The DICOM header says the body part is {metadata.body_part}, not the chest.",
        ))
    if is_lateral(metadata):
        view = metadata.view_position or f"orientation {metadata.patient_orientation}"
        flags.append(TrustFlag(
            LATERAL, f"The DICOM header gives a lateral view ({view}); the model only knows frontal (PA or AP) views.",
        ))
    if metadata.age_years is not None and not TRAINED_AGES_YEARS[0] <= metadata.age_years <= TRAINED_AGES_YEARS[1]:
        flags.append(TrustFlag(
            AGE_OUTSIDE_TRAINING,
            f"The patient is {describe_age(metadata.age_years)} old by the DICOM header; {TRUSTED_AGE_TEXT}",
            unreliable=False,
        ))
    return flags
