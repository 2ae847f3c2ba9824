"""The PACS over DIMSE (pynetdicom), for a PACS that speaks no DICOMweb: C-ECHO, C-FIND, C-GET, C-STORE.

One association per operation, with the site's AE titles, the same timeout
for association, DIMSE messages and the network, and the site's bounded
retries for an association that cannot be opened. C-GET keeps the image in
the transfer syntax the PACS stores it in: every syntax this app decodes is
offered for CR and DX.
"""
from __future__ import annotations

import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pydicom
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
    RLELossless,
)
from pynetdicom import AE, build_role, evt
from pynetdicom.association import Association
from pynetdicom.presentation import PresentationContext, build_context
from pynetdicom.sop_class import (
    Comprehensive3DSRStorage,
    ComputedRadiographyImageStorage,
    DigitalXRayImageStorageForPresentation,
    DigitalXRayImageStorageForProcessing,
    SecondaryCaptureImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    Verification,
)

from review.pacs.connection import (
    MAX_RESULTS,
    WORKLIST_FIELDS,
    PacsError,
    StudyQuery,
    WorklistImage,
    search_chest_radiographs,
    unreachable,
)
from review.pacs.settings import CONNECT_SECONDS, PacsSettings

CHEST_IMAGE_STORAGE = (ComputedRadiographyImageStorage, DigitalXRayImageStorageForPresentation,
                       DigitalXRayImageStorageForProcessing)
RESULT_STORAGE = (Comprehensive3DSRStorage, SecondaryCaptureImageStorage)
STORED_SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian,
                   ExplicitVRBigEndian, *JPEGTransferSyntaxes, *JPEGLSTransferSyntaxes, *JPEG2000TransferSyntaxes,
                   RLELossless]
SUCCESS, PENDING = 0x0000, (0xFF00, 0xFF01)
STORED_WITH_WARNING = (0xB000, 0xB006, 0xB007)  # coerced, elements discarded, or not matching the SOP class

logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # its debug logs print identifiers from the datasets


class DimsePacs:
    """One PACS's DICOM port, with the site's called and calling AE titles and timeout."""

    def __init__(self, settings: PacsSettings) -> None:
        self.settings = settings
        self.timeout = settings.timeout_seconds

    def _entity(self) -> AE:
        entity = AE(ae_title=self.settings.calling_ae_title)
        entity.acse_timeout = entity.dimse_timeout = entity.network_timeout = self.timeout
        entity.connection_timeout = min(CONNECT_SECONDS, self.timeout)
        return entity

    @contextmanager
    def _association(self, contexts: list[PresentationContext], action: str, **options) -> Iterator[Association]:
        """An association for one operation, released afterwards; every refusal in a reader's words."""
        settings = self.settings
        entity = self._entity()
        entity.requested_contexts = contexts
        for _ in range(settings.retries + 1):
            association = entity.associate(settings.dimse_host, settings.dimse_port,
                                           ae_title=settings.called_ae_title, **options)
            if association.is_established or association.is_rejected:
                break
        if association.is_rejected:
            raise PacsError(f"The PACS refused this app's association ({action}): ask IT whether it knows the "
                            f"app's AE title, {settings.calling_ae_title}, and the called AE title is right.")
        if not association.is_established:
            raise unreachable(action)
        try:
            yield association
        except (OSError, RuntimeError, ValueError) as error:
            raise PacsError(f"The PACS connection broke off ({action}). Try again.", str(error)) from error
        finally:
            if association.is_established:
                association.release()

    def echo(self) -> None:
        """C-ECHO: the PACS answers on its DICOM port."""
        with self._association([build_context(Verification)], "checking the PACS") as association:
            status = association.send_c_echo()
        if status.get("Status") != SUCCESS:
            raise PacsError("The PACS did not answer the verification request (C-ECHO).")

    def _find(self, identifier: pydicom.Dataset, action: str) -> list[pydicom.Dataset]:
        """C-FIND; past MAX_RESULTS + 1 answers the association is aborted (the caller says the list is cut)."""
        found: list[pydicom.Dataset] = []
        with self._association([build_context(StudyRootQueryRetrieveInformationModelFind)], action) as association:
            for status, answer in association.send_c_find(identifier, StudyRootQueryRetrieveInformationModelFind):
                code = status.get("Status") if status else None
                if code is None:
                    raise PacsError(f"The PACS did not answer in time ({action}).")
                if code in PENDING and answer is not None:
                    found.append(answer)
                    if len(found) > MAX_RESULTS:
                        association.abort()
                        break
                elif code != SUCCESS:
                    raise PacsError(f"The PACS answered the search with status 0x{code:04X} ({action}).")
        return found

    @staticmethod
    def _image_query(**keys: str) -> pydicom.Dataset:
        """An IMAGE-level identifier with these keys (an empty one is returned, not matched)."""
        identifier = pydicom.Dataset()
        identifier.QueryRetrieveLevel = "IMAGE"
        for keyword, value in keys.items():
            setattr(identifier, keyword, value)
        return identifier

    def search(self, query: StudyQuery) -> list[WorklistImage]:
        """C-FIND: chest radiographs (CR or DX) matching the query, newest first."""
        fields = dict.fromkeys(WORKLIST_FIELDS, "")
        return search_chest_radiographs(
            query, lambda filters: self._find(self._image_query(**(fields | filters)), "searching")
        )

    def retrieve(self, image: WorklistImage) -> bytes:
        """C-GET: the image's file, in the transfer syntax the PACS holds it in."""
        received: list[bytes] = []

        def keep(event: evt.Event) -> int:
            buffer = io.BytesIO()
            buffer.write(b"\x00" * 128 + b"DICM")
            pydicom.filewriter.write_file_meta_info(buffer, event.file_meta, enforce_standard=True)
            buffer.write(event.request.DataSet.getvalue())
            received.append(buffer.getvalue())
            return SUCCESS

        contexts = [build_context(StudyRootQueryRetrieveInformationModelGet)]
        # One context per syntax, so the PACS can accept each and send the file as stored, not transcoded.
        contexts += [build_context(storage, syntax) for storage in CHEST_IMAGE_STORAGE for syntax in STORED_SYNTAXES]
        roles = [build_role(storage, scp_role=True) for storage in CHEST_IMAGE_STORAGE]
        identifier = self._image_query(StudyInstanceUID=image.study_uid, SeriesInstanceUID=image.series_uid,
                                       SOPInstanceUID=image.sop_uid)
        with self._association(contexts, "retrieving the image", ext_neg=roles,
                               evt_handlers=[(evt.EVT_C_STORE, keep)]) as association:
            statuses = [status.get("Status") for status, _ in association.send_c_get(
                identifier, StudyRootQueryRetrieveInformationModelGet) if status]
        if not received:
            failed = next((code for code in statuses if code not in (SUCCESS, *PENDING)), None)
            raise PacsError("The PACS sent no image for this row" + (f" (status 0x{failed:04X})" if failed else "")
                            + "; it may have been moved or deleted.")
        return received[0]

    def store(self, datasets: Sequence[pydicom.Dataset]) -> None:
        """C-STORE of each; a refusal is an error (stored with a warning is stored: the caller checks it is held)."""
        contexts = [build_context(storage, ExplicitVRLittleEndian) for storage in RESULT_STORAGE]
        with self._association(contexts, "storing the result") as association:
            for dataset in datasets:
                accepted = {context.abstract_syntax for context in association.accepted_contexts}
                if dataset.SOPClassUID not in accepted:
                    raise PacsError(f"The PACS does not take {dataset.SOPClassUID.name} objects from this app, so "
                                    "the result was not stored: ask IT to allow them for its AE title.")
                status = association.send_c_store(dataset)
                code = status.get("Status") if status else None
                if code != SUCCESS and code not in STORED_WITH_WARNING:
                    described = "no answer in time" if code is None else f"status 0x{code:04X}"
                    raise PacsError(f"The PACS refused to store the result ({described}).")

    def holds(self, study_uid: str, series_uid: str, sop_uid: str = "") -> bool:
        """C-FIND for the instance (any in the series, without `sop_uid`): whether the PACS now holds it."""
        identifier = self._image_query(StudyInstanceUID=study_uid, SeriesInstanceUID=series_uid,
                                       SOPInstanceUID=sop_uid)
        return bool(self._find(identifier, "checking the PACS"))
