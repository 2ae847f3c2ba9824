"""Send one image's result to its study in the PACS, and check the PACS holds it afterwards."""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pydicom

from review.pacs.connection import Pacs, PacsError
from review.pacs.results import AiResult, as_picture, result_objects, result_uids

# What building the result from an odd source header raises (highdicom and pydicom check what they copy).
HEADER_PROBLEMS = (ValueError, AttributeError, TypeError, KeyError, IndexError)


@dataclass(frozen=True)
class Sent:
    """What the PACS holds of one result after sending it: the SR and the Secondary Capture, by UID."""

    sr_uid: str
    sc_uid: str
    already_held: bool  # nothing was stored: the PACS held it (or, once_per_model, a result of this model) already


def source_dataset(data: bytes) -> pydicom.Dataset:
    """The retrieved image's header, which the result's series reference and copy the patient and study from."""
    try:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except (pydicom.errors.InvalidDicomError, *HEADER_PROBLEMS, EOFError) as error:
        raise PacsError("The image's DICOM header cannot be read again, so no result was sent.", str(error)) from error


def send_result(
    pacs: Pacs, source: pydicom.Dataset, result: AiResult, explained: np.ndarray, *, once_per_model: bool = False
) -> Sent:
    """Store what the PACS lacks of this result (the SR, the Secondary Capture) as new series of the source's
    study, then ask the PACS again whether it holds both: a store's own status is not trusted. With
    `once_per_model`, nothing is sent for an image that has any result of this model version already."""
    study = str(source.StudyInstanceUID)
    picture = as_picture(explained)
    uids = result_uids(source, result, picture)
    if once_per_model and pacs.holds(study, uids.sr_series):
        return Sent(uids.sr_instance, uids.sc_instance, already_held=True)
    series = {uids.sr_instance: uids.sr_series, uids.sc_instance: uids.sc_series}
    wanted = {uid for uid, in_series in series.items() if not pacs.holds(study, in_series, uid)}
    if not wanted:
        return Sent(uids.sr_instance, uids.sc_instance, already_held=True)
    try:
        datasets = result_objects(source, result, picture, uids, wanted)
    except HEADER_PROBLEMS as error:
        raise PacsError("The image's DICOM header lacks something the result must copy from it (patient, study "
                        "or equipment), so no result was sent.", str(error)) from error
    pacs.store(datasets)
    missing = [name for name, uid in (("structured report", uids.sr_instance), ("image", uids.sc_instance))
               if not pacs.holds(study, series[uid], uid)]
    if missing:
        raise PacsError(f"The PACS accepted the result, but does not list its {' and '.join(missing)}; "
                        "send it again, or ask IT to look at the PACS's log.")
    return Sent(uids.sr_instance, uids.sc_instance, already_held=False)
