"""The configured PACS: DICOMweb where its URL is set, else DIMSE."""
from __future__ import annotations

from review.pacs.connection import Pacs
from review.pacs.settings import PacsSettings


def connect(settings: PacsSettings) -> Pacs:
    if settings.uses_dicomweb:
        from review.pacs.dicomweb import DicomWebPacs

        return DicomWebPacs(settings)
    from review.pacs.dimse import DimsePacs

    return DimsePacs(settings)
