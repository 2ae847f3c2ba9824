"""Send one image's result to its study in the PACS, and check the PACS holds it afterwards."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pydicom

from review.pacs.connection import Pacs, PacsError
from review.pacs.results import AiResult, result_uids, secondary_capture, structured_report


@dataclass(frozen=True)
class Sent:
    """What the PACS holds of one result after sending it: the SR and the Secondary Capture, by UID."""

    study_uid: str
    sr_uid: str
    sc_uid: str
    already_held: bool  # it held both before this send: nothing was stored


def source_dataset(data: bytes) -> pydicom.Dataset:
    """The retrieved image's header, which the result's series reference and copy the patient and study from."""
    return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)


def send_result(pacs: Pacs, source: pydicom.Dataset, result: AiResult, explained: np.ndarray) -> Sent:
    """Store the SR and the Secondary Capture as new series of the source's study, unless the PACS holds them
    already; then ask the PACS again whether it holds both (a store's own status is not trusted)."""
    study = str(source.StudyInstanceUID)
    uids = result_uids(source, result)
    if pacs.holds(study, uids.sr_instance) and pacs.holds(study, uids.sc_instance):
        return Sent(study, uids.sr_instance, uids.sc_instance, already_held=True)
    pacs.store([structured_report(source, result), secondary_capture(source, explained, result)])
    missing = [name for name, uid in (("structured report", uids.sr_instance), ("image", uids.sc_instance))
               if not pacs.holds(study, uid)]
    if missing:
        raise PacsError(f"The PACS accepted the result, but does not list its {' and '.join(missing)}; "
                        "send it again, or ask IT to look at the PACS's log.")
    return Sent(study, uids.sr_instance, uids.sc_instance, already_held=False)
