"""Decode a single-frame DICOM radiograph to 8-bit grey levels, as a reader's viewer would show it.

The modality LUT and the first usable VOI mapping are applied, MONOCHROME1 is
inverted so bone is bright, and what real PACS files get wrong (empty VOI or
Modality LUTs, zero-width windows, no file header, 12-bit JPEG whose scan
header a strict decoder refuses) is worked around with a note.
"""
from __future__ import annotations

import functools
import io

import cv2
import gdcm
import libjpeg
import numpy as np
import openjpeg
import pydicom
from pydicom.datadict import dictionary_has_tag
from pydicom.encaps import get_frame
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_dataset, read_preamble
from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing, get_decoder
from pydicom.pixels.utils import _get_jpg_parameters  # no public equivalent in pydicom 3
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    JPEG2000TransferSyntaxes,
    JPEGExtended12Bit,
    JPEGLSTransferSyntaxes,
    JPEGTransferSyntaxes,
)

from model.errors import ImageInputError
from model.imaging.decoded import DecodedImage, check_size, file_label, to_uint8
from model.imaging.formats import DICOM, UPLOAD_ADVICE, has_dicom_prefix, starts_like_a_dataset
from model.imaging.inflate import inflate_deflated
from model.imaging.window import GreyLevels, as_list, dicom_presets, voi_lut_key, window_key
from model.trust.metadata import read_metadata

# The Image Pixel module's elements (Rows, Columns, Bits Allocated): a header that has them announces pixel data.
IMAGE_PIXEL_ELEMENTS = frozenset({0x00280010, 0x00280011, 0x00280100})


def _apply_first_valid_voi(
    values: np.ndarray, dataset: pydicom.Dataset, notes: list[str]
) -> tuple[np.ndarray, str | None]:
    """The first VOI mapping that works (a VOI LUT with data, then each window of positive width), and its key.

    Files from real PACS carry empty VOI LUT sequences, windows of width 0 or
    LUT descriptors pydicom cannot use; such a mapping is skipped, with a note,
    rather than refusing the image.
    """
    # (what it is, its key, why it is unusable or None, how to apply it), in the order DICOM prefers them.
    mappings = [
        ("VOI LUT", voi_lut_key(index), None if "LUTData" in item and "LUTDescriptor" in item else "an empty VOI LUT",
         functools.partial(apply_voi, values, dataset, index))
        for index, item in enumerate(dataset.get("VOILUTSequence") or [])
    ] + [
        ("window", window_key(index), None if _is_positive(width) else f"a window of width {width}",
         functools.partial(apply_windowing, values, dataset, index))
        for index, width in enumerate(as_list(dataset.get("WindowWidth")))
    ]
    skipped: list[str] = []
    for kind, key, unusable, apply in mappings:
        if unusable:
            skipped.append(unusable)
            continue
        try:
            mapped = apply()
        except (ValueError, TypeError, IndexError, AttributeError, KeyError):
            skipped.append(f"a {kind} that cannot be applied")
            continue
        notes.append(f"DICOM {kind} applied." + _skipped_note(skipped))
        return mapped, key
    if skipped:
        notes.append("No usable DICOM window: the image is shown over its full range." + _skipped_note(skipped))
    return values, None


def _can_decode(syntax: pydicom.uid.UID) -> bool:
    """A pixel-data plugin for this transfer syntax is installed (requirements.txt pins pylibjpeg's)."""
    try:
        return bool(get_decoder(syntax).is_available)
    except NotImplementedError:
        return False


def _is_positive(value: object) -> bool:
    try:
        return float(value) > 0
    except (TypeError, ValueError):
        return False


def _skipped_note(skipped: list[str]) -> str:
    return f" Skipped {', '.join(skipped)}." if skipped else ""


def _not_dicom(name: str) -> ImageInputError:
    return ImageInputError(
        f"{file_label(name)} is not a DICOM file (no DICOM header or standard elements); {UPLOAD_ADVICE}"
    )


def _syntax_as_read(dataset: pydicom.Dataset) -> pydicom.uid.UID:
    """The transfer syntax of a bare data set (no file meta), from how pydicom found it encoded."""
    implicit, little = dataset.original_encoding
    if implicit:
        return pydicom.uid.ImplicitVRLittleEndian
    return pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian


def read_file_meta(data: bytes) -> tuple[pydicom.Dataset, int]:
    """The file meta group of a DICOM file with a preamble, and where the data set after it starts."""
    stream = io.BytesIO(data)
    read_preamble(stream, False)
    meta = read_dataset(stream, False, True, stop_when=lambda tag, _vr, _length: tag.group != 2)
    return meta, stream.tell()


def _read_dataset(data: bytes, name: str) -> pydicom.Dataset:
    """The data set, a deflated one inflated here under a cap (pydicom would inflate it whole, unbounded)."""
    if has_dicom_prefix(data):
        meta, start = read_file_meta(data)
        if meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
            dataset = pydicom.dcmread(io.BytesIO(inflate_deflated(memoryview(data)[start:], file_label(name))), force=True)
            dataset.file_meta = pydicom.dataset.FileMetaDataset(meta)
            dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
            return dataset
    return pydicom.dcmread(io.BytesIO(data), force=True)


def _jpeg_extended_frame_header(frame: bytes) -> dict[str, int]:
    """The size of a JPEG Extended frame whose scan header libjpeg refuses (GDCM decodes it), from pydicom's own
    JPEG header parser, in libjpeg's names; empty when even that cannot read it."""
    header = _get_jpg_parameters(frame)
    if not {"height", "width", "components"} <= header.keys():
        return {}
    return {"rows": header["height"], "columns": header["width"], "nr_components": header["components"]}


def _check_compressed_frame(dataset: pydicom.Dataset, name: str) -> None:
    """A compressed frame's own size must be the header's: decoders allocate what the frame declares.

    A 64x64 header over a JPEG or JPEG 2000 frame declaring 60000x60000
    pixels, or thousands of components, would pass check_size and then
    allocate gigabytes in the decoder.
    """
    syntax = dataset.file_meta.TransferSyntaxUID
    # Each decoder's header reader, and its name for the number of components.
    if syntax in JPEG2000TransferSyntaxes:
        read_parameters, components_key = openjpeg.get_parameters, "samples_per_pixel"
    elif syntax in JPEGTransferSyntaxes or syntax in JPEGLSTransferSyntaxes:
        read_parameters, components_key = libjpeg.get_parameters, "nr_components"
    else:
        return  # RLE decodes into a buffer of the header's size; native data is the buffer itself
    frame = get_frame(dataset.PixelData, 0, number_of_frames=1)
    try:
        parameters = read_parameters(frame)
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as error:
        parameters = _jpeg_extended_frame_header(frame) if syntax == JPEGExtended12Bit else {}
        if not parameters:
            raise ImageInputError(
                f"{file_label(name)} is a damaged DICOM file: its compressed image cannot be read.", str(error)
            ) from error
        components_key = "nr_components"
    width, height = int(parameters["columns"]), int(parameters["rows"])
    check_size(width, height, name)
    components, samples = int(parameters[components_key]), int(dataset.get("SamplesPerPixel", 1) or 1)
    if (height, width, components) != (int(dataset.Rows), int(dataset.Columns), samples):
        raise ImageInputError(
            f"{file_label(name)} is a damaged DICOM file: its header describes a {dataset.Columns}x{dataset.Rows} "
            f"image of {samples} sample(s) per pixel, but its compressed image is {width}x{height} pixels of "
            f"{components}."
        )


def _jpeg_extended_with_gdcm(dataset: pydicom.Dataset) -> np.ndarray:
    """A 12-bit JPEG Extended (Process 2 and 4) frame, decoded by GDCM's IJG library.

    libjpeg (pylibjpeg's) refuses frames whose scan header gives a spectral
    selection other than 0-63 (error -1038), which some encoders write in
    sequential JPEG; IJG reads past it. pydicom will not hand 12-bit frames
    to GDCM, so the frame goes to GDCM here, in memory, as pydicom would.
    """
    if int(dataset.get("SamplesPerPixel", 1) or 1) != 1:
        raise NotImplementedError("only grey 12-bit JPEG Extended is decoded through GDCM")
    fragment = gdcm.Fragment()
    fragment.SetByteStringValue(get_frame(dataset.PixelData, 0, number_of_frames=1))
    fragments = gdcm.SequenceOfFragments.New()
    fragments.AddFragment(fragment)
    element = gdcm.DataElement(gdcm.Tag(0x7FE0, 0x0010))
    element.SetValue(fragments.__ref__())
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    image = gdcm.Image()
    image.SetNumberOfDimensions(2)
    image.SetDimensions((columns, rows, 1))
    image.SetDataElement(element)
    image.SetPhotometricInterpretation(gdcm.PhotometricInterpretation(gdcm.PhotometricInterpretation.MONOCHROME2))
    image.SetTransferSyntax(gdcm.TransferSyntax(gdcm.TransferSyntax.JPEGExtendedProcess2_4))
    bits, signed = int(dataset.BitsStored), int(dataset.get("PixelRepresentation", 0) or 0)
    image.SetPixelFormat(gdcm.PixelFormat(1, 16, bits, bits - 1, signed))
    frame = image.GetBuffer().encode("utf-8", "surrogateescape")
    if len(frame) != rows * columns * 2:
        raise RuntimeError(f"GDCM decoded {len(frame)} bytes for a {columns}x{rows} 16-bit frame")
    return np.frombuffer(frame, dtype="<i2" if signed else "<u2").reshape(rows, columns)


def _stored_values(dataset: pydicom.Dataset, notes: list[str]) -> np.ndarray:
    """The frame's stored values, through pydicom's pixel-data plugins or, for 12-bit JPEG they refuse, GDCM."""
    try:
        return dataset.pixel_array
    except (NotImplementedError, RuntimeError):
        if dataset.file_meta.TransferSyntaxUID != JPEGExtended12Bit or int(dataset.get("BitsStored") or 8) <= 8:
            raise
        values = _jpeg_extended_with_gdcm(dataset)
        notes.append("12-bit JPEG that the usual decoder refuses (a non-standard scan header): decoded with GDCM.")
        return values


def _modality_values(raw: np.ndarray, dataset: pydicom.Dataset, name: str, notes: list[str]) -> np.ndarray:
    """Stored values to modality values, past a Modality LUT Sequence that holds no usable table (LEADTOOLS writes
    one): then the rescale slope and intercept, or the stored values, as if the sequence were absent."""
    try:
        return apply_modality_lut(raw, dataset)
    except (TypeError, AttributeError, ValueError, IndexError, KeyError) as error:
        if "ModalityLUTSequence" not in dataset:
            raise ImageInputError(
                f"{file_label(name)} is a damaged DICOM file: its rescale values cannot be applied.", str(error)
            ) from error
    without_lut = pydicom.Dataset(dataset)
    del without_lut.ModalityLUTSequence
    rescaled = "RescaleSlope" in dataset or "RescaleIntercept" in dataset
    notes.append("The file's Modality LUT is empty or incomplete; "
                 + ("its rescale slope and intercept were used instead." if rescaled else "its stored values were used."))
    try:
        return apply_modality_lut(raw, without_lut)
    except (TypeError, AttributeError, ValueError, IndexError, KeyError) as error:
        raise ImageInputError(
            f"{file_label(name)} is a damaged DICOM file: neither its Modality LUT nor its rescale values can be "
            "applied.", str(error)
        ) from error


def decode_dicom(data: bytes, name: str) -> DecodedImage:
    """The radiograph of a DICOM file; ImageInputError for anything else, saying what the file holds instead."""
    if not (has_dicom_prefix(data) or starts_like_a_dataset(data)):
        raise _not_dicom(name)
    try:
        dataset = _read_dataset(data, name)
    except ImageInputError:
        raise
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise ImageInputError(f"{file_label(name)} is not a readable DICOM file.", str(error)) from error
    if not has_dicom_prefix(data) and not any(dictionary_has_tag(tag) for tag in dataset.keys()):  # noqa: SIM118 - a Dataset iterates over elements
        # Read with force=True, any bytes parse as a few unknown elements; a real file has standard ones.
        raise _not_dicom(name)
    notes: list[str] = []
    if "TransferSyntaxUID" not in dataset.file_meta:
        dataset.file_meta.TransferSyntaxUID = _syntax_as_read(dataset)
        notes.append(f"DICOM without a file header: read as {dataset.file_meta.TransferSyntaxUID.name}.")
    if "PixelData" not in dataset and IMAGE_PIXEL_ELEMENTS.intersection(dataset.keys()):
        raise ImageInputError(
            f"{file_label(name)} is a damaged DICOM file: its header describes an image, but the pixel data is "
            "missing or cut off. Export it from the PACS again."
        )
    if "PixelData" not in dataset:
        raise ImageInputError(
            f"{file_label(name)} is a DICOM file without pixel data (perhaps a report or structured document)."
        )
    try:
        rows, columns = int(dataset.Rows), int(dataset.Columns)
    except (AttributeError, TypeError, ValueError) as error:
        raise ImageInputError(f"{file_label(name)} is a DICOM file without valid image dimensions.") from error
    check_size(columns, rows, name)
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ImageInputError(
            f"{file_label(name)} holds {frames} frames (a series or cine loop); upload a single radiograph."
        )
    _check_compressed_frame(dataset, name)
    try:
        raw = _stored_values(dataset, notes)
    except (NotImplementedError, RuntimeError) as error:
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
        described = f"{syntax.name} ({syntax})" if syntax is not None else "its transfer syntax"
        if syntax is not None and _can_decode(syntax):
            raise ImageInputError(
                f"{file_label(name)} uses {described}, but its compressed pixel data could not be decoded: "
                "it is damaged or not what the header declares."
            ) from error
        raise ImageInputError(
            f"{file_label(name)} uses {described}, which cannot be decoded here; "
            "export it uncompressed or as PNG."
        ) from error
    except (ValueError, AttributeError, KeyError, TypeError, EOFError, OSError) as error:
        raise ImageInputError(
            f"{file_label(name)} is a damaged DICOM file: its pixel data cannot be read.", str(error)
        ) from error
    metadata = read_metadata(dataset)
    photometric = str(getattr(dataset, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if raw.ndim == 3:
        if raw.shape[-1] not in (3, 4):
            raise ImageInputError(f"{file_label(name)} has DICOM pixel data of unexpected shape {raw.shape}.")
        raw = cv2.cvtColor(to_uint8(raw[..., :3]), cv2.COLOR_RGB2GRAY)
        notes.append(f"Colour DICOM ({photometric}) converted to grayscale.")
        return DecodedImage(raw, DICOM.name, notes, metadata)
    values = _modality_values(raw, dataset, name, notes)
    mapped, used = _apply_first_valid_voi(values, dataset, notes)
    pixels = to_uint8(mapped)
    monochrome1 = photometric == "MONOCHROME1"
    if monochrome1:
        pixels = 255 - pixels
        notes.append("MONOCHROME1 DICOM inverted so bone is bright.")
    grey = GreyLevels(values.astype(np.float32), dicom_presets(dataset, values, used), monochrome1,
                      int(dataset.get("BitsStored") or raw.dtype.itemsize * 8))
    return DecodedImage(pixels, DICOM.name, notes, metadata, grey=grey)
