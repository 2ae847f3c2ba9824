"""What the app asks of a PACS, whichever protocol carries it, and what it tells a reader when the PACS fails.

A PacsError's message is for the reader: it never names the server, the
credentials or a patient. What the library said goes in `detail`, for admins,
with any URL's query (which can hold a patient ID) cut off.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import pydicom

# The fields a worklist row shows, asked of the PACS with every search.
WORKLIST_FIELDS = (
    "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "StudyDate", "AccessionNumber", "Modality",
    "ViewPosition", "BodyPartExamined", "PatientAge", "PatientName", "PatientID",
)
CHEST_MODALITIES = ("CR", "DX")  # computed and digital radiography: the chest X-rays the model reads
MAX_RESULTS = 200  # a worklist longer than this is cut, and the reader is told to narrow the search
MASK = "•••"
_DATE = re.compile(r"^\d{8}$")
_URL_QUERY = re.compile(r"\?[^\s'\")]*")
_WILDCARDS = str.maketrans("", "", "*?\\")  # DICOM matching's wildcards, and the backslash of several values


class PacsError(Exception):
    """The PACS could not do what was asked; str() is the reader's message, `detail` the library's words."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = _URL_QUERY.sub("?…", detail)


def unreachable(action: str, detail: str = "") -> PacsError:
    return PacsError(f"The PACS cannot be reached just now ({action}). Try again later, or ask IT whether it is "
                     "running.", detail)


@dataclass(frozen=True)
class StudyQuery:
    """A search for chest radiographs: any of accession number, patient ID and a study date range."""

    accession: str = ""
    patient_id: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def date_range(self) -> str:
        """DICOM's range matching: YYYYMMDD-YYYYMMDD, open at either end."""
        if self.date_from is None and self.date_to is None:
            return ""
        low = self.date_from.strftime("%Y%m%d") if self.date_from else ""
        high = self.date_to.strftime("%Y%m%d") if self.date_to else ""
        return f"{low}-{high}"

    def filters(self) -> dict[str, str]:
        """The matching keys a PACS is asked: a reader types an identifier, so wildcards are dropped, and a key
        left empty is not asked (an empty key would match everything)."""
        found = {"AccessionNumber": self.accession.translate(_WILDCARDS).strip(),
                 "PatientID": self.patient_id.translate(_WILDCARDS).strip(), "StudyDate": self.date_range()}
        return {key: value for key, value in found.items() if value}


@dataclass(frozen=True)
class WorklistImage:
    """One chest radiograph the PACS holds, as the worklist shows it and as it is retrieved."""

    study_uid: str
    series_uid: str
    sop_uid: str
    study_date: str
    accession: str
    modality: str
    view: str
    body_part: str
    age: str
    patient_name: str
    patient_id: str

    @property
    def file_name(self) -> str:
        """The name the page shows for this image: no patient identifier in it."""
        return f"PACS {self.accession or 'no accession'} {self.modality} {self.view or 'view?'} {self.sop_uid[-8:]}.dcm"

    def shown_date(self) -> str:
        value = self.study_date
        return f"{value[:4]}-{value[4:6]}-{value[6:]}" if _DATE.match(value) else value


class Pacs(Protocol):
    """One PACS connection: DICOMweb (review.pacs.dicomweb) or DIMSE (review.pacs.dimse)."""

    def search(self, query: StudyQuery) -> list[WorklistImage]: ...

    def retrieve(self, image: WorklistImage) -> bytes: ...

    def store(self, datasets: Sequence[pydicom.Dataset]) -> None: ...

    def holds(self, study_uid: str, series_uid: str, sop_uid: str = "") -> bool: ...


def sorted_worklist(images: list[WorklistImage]) -> list[WorklistImage]:
    """Newest study first, then by accession, as a reader scans a worklist."""
    return sorted(images, key=lambda image: (image.study_date, image.accession, image.sop_uid), reverse=True)


def worklist_image(dataset: pydicom.Dataset) -> WorklistImage:
    """A search answer as a worklist row (every value as text; absent ones empty)."""
    def text(keyword: str) -> str:
        value = dataset.get(keyword, "")
        return "" if value is None else str(value)

    return WorklistImage(
        study_uid=text("StudyInstanceUID"), series_uid=text("SeriesInstanceUID"), sop_uid=text("SOPInstanceUID"),
        study_date=text("StudyDate"), accession=text("AccessionNumber"), modality=text("Modality"),
        view=text("ViewPosition"), body_part=text("BodyPartExamined"), age=text("PatientAge"),
        patient_name=text("PatientName"), patient_id=text("PatientID"),
    )


def search_chest_radiographs(
    query: StudyQuery, find: Callable[[dict[str, str]], list[pydicom.Dataset]]
) -> list[WorklistImage]:
    """Chest radiographs matching the query, newest first: `find` asks the PACS for one modality's matches."""
    filters = query.filters()
    if not filters:
        raise PacsError("Give an accession number, a patient ID or a study date range to search the PACS.")
    found: list[WorklistImage] = []
    for modality in CHEST_MODALITIES:
        found += [worklist_image(answer) for answer in find({**filters, "Modality": modality})[: MAX_RESULTS + 1]]
    return sorted_worklist(found)
