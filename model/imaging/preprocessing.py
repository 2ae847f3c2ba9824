"""Decode uploads (JPEG, PNG, DICOM) and turn them into the network's input.

Training, evaluation, batch prediction and the app all go through
`decode_image` and `to_model_input`, so the network sees one distribution.
The input is squashed (aspect not kept) to a square because the training
images were squashed that way; CLAHE then evens out exposure and contrast,
which differ between X-ray machines and over time.
"""
from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import libjpeg
import numpy as np
import pydicom
from PIL import Image, ImageOps, UnidentifiedImageError
from pydicom.datadict import dictionary_has_tag
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing, get_decoder

from model.errors import ImageInputError
from model.trust.metadata import DicomMetadata, read_metadata

MIN_SIDE = 64
MAX_PIXELS = 100_000_000
# No radiograph file is larger than its pixels at 16 bits, uncompressed (200 MB
# at the pixel limit): anything bigger is refused before it is parsed.
MAX_FILE_BYTES = 2 * MAX_PIXELS
ACCEPTED_PIL_FORMATS = {"JPEG", "MPO", "PNG"}
# Pillow's decompression-bomb guard is off: it warns through the process-wide
# warning filters, which Streamlit's script threads share (another thread's
# filter turned the warning into an error mid-decode). _check_size applies the
# one limit from the header instead, before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = None
JPEG_START = b"\xff\xd8\xff"
# The reference libjpeg fills a cut-off image in silently; a missing end marker
# near the end of the file betrays it (encoders may pad after it).
JPEG_END = b"\xff\xd9"
JPEG_END_SEARCH = 64
DICOM_PREFIX = b"DICM"
# A DICOM data set written without the 128-byte preamble and "DICM" starts
# with its lowest group: the file meta group (0002) or the identifying group
# (0008), little- or big-endian. Anything else is not worth parsing: pydicom
# reads any bytes with force=True, and 49 MB of zeros took it 12 s.
DATASET_STARTS = (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")
CLAHE_CLIP_LIMIT = 2.0
CLAHE_TILES = (8, 8)
# The training images were all squashed to this square before the network saw
# them; uploads take the same route, so a full-resolution original and a copy
# of the training size reach the network through the same resampling.
SOURCE_SIZE = 224
# Collimation and scanning frames: a row or column whose grey levels vary by
# less than BORDER_LINE_STD holds no anatomy. Of the training X-rays 99.6% have
# no such border wider than MIN_CROPPED_BORDER of a side (the widest, 15%), so
# the network learnt to judge chests that fill the frame; a wider border is
# cropped before anything sees the image. It is measured on a copy at most
# BORDER_CHECK_SIDE pixels long, which bounds the memory and evens out JPEG noise.
BORDER_LINE_STD = 3.0
MIN_CROPPED_BORDER = 0.075
MAX_CROPPED_BORDER = 1 / 3
BORDER_CHECK_SIDE = 1024


@dataclass
class DecodedImage:
    """A grayscale X-ray at its source resolution, with what decoding had to do."""

    pixels: np.ndarray
    source_format: str
    notes: list[str] = field(default_factory=list)
    metadata: DicomMetadata | None = None  # a DICOM's header fields; JPEG and PNG carry none

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]


def _label(name: str) -> str:
    return f"'{name}'" if name else "The file"


def check_file_bytes(size: int, name: str) -> None:
    """Refuse a file (or an archive member, from its declared size) larger than any radiograph, unread."""
    if size > MAX_FILE_BYTES:
        raise ImageInputError(
            f"{_label(name)} is {size / 1e6:,.0f} MB, far more than any radiograph "
            f"(at most {MAX_FILE_BYTES / 1e6:,.0f} MB); it was not read."
        )


def _check_size(width: int, height: int, name: str) -> None:
    if width * height > MAX_PIXELS:
        raise ImageInputError(
            f"{_label(name)} is {width}x{height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"images over {MAX_PIXELS // 1_000_000} megapixels are refused. Export a smaller copy."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(
            f"{_label(name)} is only {width}x{height} pixels; at least {MIN_SIDE} pixels a side "
            "are needed to judge a chest X-ray."
        )


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Stretch a high-bit-depth image to 8 bits over its own range."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _has_dicom_prefix(data: bytes) -> bool:
    return data[128:132] == DICOM_PREFIX


def _starts_like_a_dataset(data: bytes) -> bool:
    return data[:2] in DATASET_STARTS


def _is_dicom(data: bytes, name: str) -> bool:
    """By content first (a preamble, or a bare data set as older systems write it), then by the name."""
    return _has_dicom_prefix(data) or _starts_like_a_dataset(data) or name.lower().endswith((".dcm", ".dicom"))


def _as_list(value: object) -> list:
    """A DICOM element value that may be single- or multi-valued, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, MultiValue | list | tuple) else [value]


def _apply_first_valid_voi(values: np.ndarray, dataset: pydicom.Dataset, notes: list[str]) -> np.ndarray:
    """The first VOI mapping that works: a VOI LUT with data, then each window of positive width, else none.

    Files from real PACS carry empty VOI LUT sequences, windows of width 0 or
    LUT descriptors pydicom cannot use; such a mapping is skipped, with a note,
    rather than refusing the image.
    """
    # (what it is, why it is unusable or None, how to apply it), in the order DICOM prefers them.
    mappings = [
        ("VOI LUT", None if "LUTData" in item and "LUTDescriptor" in item else "an empty VOI LUT",
         functools.partial(apply_voi, values, dataset, index))
        for index, item in enumerate(dataset.get("VOILUTSequence") or [])
    ] + [
        ("window", None if _is_positive(width) else f"a window of width {width}",
         functools.partial(apply_windowing, values, dataset, index))
        for index, width in enumerate(_as_list(dataset.get("WindowWidth")))
    ]
    skipped: list[str] = []
    for kind, unusable, apply in mappings:
        if unusable:
            skipped.append(unusable)
            continue
        try:
            mapped = apply()
        except (ValueError, TypeError, IndexError, AttributeError, KeyError):
            skipped.append(f"a {kind} that cannot be applied")
            continue
        notes.append(f"DICOM {kind} applied." + _skipped_note(skipped))
        return mapped
    if skipped:
        notes.append("No usable DICOM window: the image is shown over its full range." + _skipped_note(skipped))
    return values


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
        f"{_label(name)} is not a DICOM file (no DICOM header or standard elements); "
        "upload a JPEG, PNG or DICOM (.dcm) file."
    )


def _syntax_as_read(dataset: pydicom.Dataset) -> pydicom.uid.UID:
    """The transfer syntax of a bare data set (no file meta), from how pydicom found it encoded."""
    implicit, little = dataset.original_encoding
    if implicit:
        return pydicom.uid.ImplicitVRLittleEndian
    return pydicom.uid.ExplicitVRLittleEndian if little else pydicom.uid.ExplicitVRBigEndian


def _decode_dicom(data: bytes, name: str) -> DecodedImage:
    if not (_has_dicom_prefix(data) or _starts_like_a_dataset(data)):
        raise _not_dicom(name)
    try:
        dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        raise ImageInputError(f"{_label(name)} is not a readable DICOM file ({error}).") from error
    if not _has_dicom_prefix(data) and not any(dictionary_has_tag(tag) for tag in dataset.keys()):  # noqa: SIM118 - a Dataset iterates over elements
        # Read with force=True, any bytes parse as a few unknown elements; a real file has standard ones.
        raise _not_dicom(name)
    notes: list[str] = []
    if "TransferSyntaxUID" not in dataset.file_meta:
        dataset.file_meta.TransferSyntaxUID = _syntax_as_read(dataset)
        notes.append(f"DICOM without a file header: read as {dataset.file_meta.TransferSyntaxUID.name}.")
    if "PixelData" not in dataset:
        raise ImageInputError(
            f"{_label(name)} is a DICOM file without pixel data (perhaps a report or structured document)."
        )
    try:
        rows, columns = int(dataset.Rows), int(dataset.Columns)
    except (AttributeError, TypeError, ValueError) as error:
        raise ImageInputError(f"{_label(name)} is a DICOM file without valid image dimensions.") from error
    _check_size(columns, rows, name)
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ImageInputError(
            f"{_label(name)} holds {frames} frames (a series or cine loop); upload a single radiograph."
        )
    try:
        raw = dataset.pixel_array
    except (NotImplementedError, RuntimeError) as error:
        syntax = getattr(getattr(dataset, "file_meta", None), "TransferSyntaxUID", None)
        described = f"{syntax.name} ({syntax})" if syntax is not None else "its transfer syntax"
        if syntax is not None and _can_decode(syntax):
            raise ImageInputError(
                f"{_label(name)} uses {described}, but its compressed pixel data could not be decoded: "
                "it is damaged or not what the header declares."
            ) from error
        raise ImageInputError(
            f"{_label(name)} uses {described}, which cannot be decoded here; "
            "export it uncompressed or as PNG."
        ) from error
    except (ValueError, AttributeError, KeyError, TypeError, EOFError, OSError) as error:
        raise ImageInputError(f"{_label(name)} has DICOM pixel data that cannot be read ({error}).") from error
    metadata = read_metadata(dataset)
    photometric = str(getattr(dataset, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if raw.ndim == 3:
        if raw.shape[-1] not in (3, 4):
            raise ImageInputError(f"{_label(name)} has DICOM pixel data of unexpected shape {raw.shape}.")
        raw = cv2.cvtColor(_to_uint8(raw[..., :3]), cv2.COLOR_RGB2GRAY)
        notes.append(f"Colour DICOM ({photometric}) converted to grayscale.")
        return DecodedImage(raw, "DICOM", notes, metadata)
    values = apply_modality_lut(raw, dataset)
    pixels = _to_uint8(_apply_first_valid_voi(values, dataset, notes))
    if photometric == "MONOCHROME1":
        pixels = 255 - pixels
        notes.append("MONOCHROME1 DICOM inverted so bone is bright.")
    return DecodedImage(pixels, "DICOM", notes, metadata)


def _decode_other_jpeg(data: bytes, name: str) -> DecodedImage:
    """A JPEG Pillow cannot read (12-bit, lossless, or a coding its libjpeg lacks), by the ISO reference libjpeg.

    That is the decoder pydicom uses for the same processes inside DICOM; only
    when it fails too is the file called damaged.
    """
    try:
        parameters = libjpeg.get_parameters(data)
    except RuntimeError as error:
        raise ImageInputError(f"{_label(name)} is a JPEG file that is damaged or truncated ({error}).") from error
    _check_size(int(parameters["columns"]), int(parameters["rows"]), name)
    if JPEG_END not in data[-JPEG_END_SEARCH:]:
        raise ImageInputError(f"{_label(name)} is a JPEG file that is truncated (it has no end marker).")
    colour = int(parameters["nr_components"]) == 3
    try:
        values = libjpeg.decode(data, colour_transform=1 if colour else 0)
    except RuntimeError as error:
        raise ImageInputError(
            f"{_label(name)} is a JPEG file whose image data is damaged or truncated ({error})."
        ) from error
    notes: list[str] = []
    pixels = values
    if values.dtype != np.uint8:
        pixels = _to_uint8(values)
        notes.append(f"{parameters['precision']}-bit JPEG rescaled to 8 bits.")
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels[..., :3], cv2.COLOR_RGB2GRAY)
        notes.append("RGB image converted to grayscale.")
    return DecodedImage(np.ascontiguousarray(pixels), "JPEG", notes)


def _decode_raster(data: bytes, name: str) -> DecodedImage:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        if data.startswith(JPEG_START):
            return _decode_other_jpeg(data, name)
        raise ImageInputError(
            f"{_label(name)} is not an image this app can read; upload a JPEG, PNG or DICOM (.dcm) file."
        ) from error
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageInputError(f"{_label(name)} could not be opened as an image ({error}).") from error
    if image.format not in ACCEPTED_PIL_FORMATS:
        raise ImageInputError(
            f"{_label(name)} is a {image.format} image; upload a JPEG, PNG or DICOM (.dcm) file."
        )
    source_format = "JPEG" if image.format in ("JPEG", "MPO") else "PNG"
    width, height = image.size
    _check_size(width, height, name)
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError) as error:
        if source_format == "JPEG":
            return _decode_other_jpeg(data, name)
        raise ImageInputError(
            f"{_label(name)} is damaged or truncated and cannot be decoded ({error})."
        ) from error
    notes: list[str] = []
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = _to_uint8(np.asarray(image))
        notes.append(f"High bit-depth image ({mode}) rescaled to 8 bits.")
        return DecodedImage(pixels, source_format, notes)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
        notes.append("Transparency removed (composited on black).")
    elif mode == "CMYK":
        notes.append("CMYK image converted to grayscale.")
    elif mode not in ("L", "1"):
        notes.append(f"{mode} image converted to grayscale.")
    pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    return DecodedImage(pixels, source_format, notes)


def _uniform_run(line_stds: np.ndarray) -> int:
    """How many lines from the start are uniform; 0 when more than MAX_CROPPED_BORDER of them are.

    So much uniform image is no border around an X-ray but a blank or mostly
    empty picture, which the out-of-distribution checks name.
    """
    limit = int(len(line_stds) * MAX_CROPPED_BORDER)
    varied = np.flatnonzero(line_stds[:limit] > BORDER_LINE_STD)
    return int(varied[0]) if varied.size else 0


def uniform_border(pixels: np.ndarray) -> tuple[float, float, float, float]:
    """The uniform border's share of each side: top, bottom, left, right.

    Rows are measured first, columns then within the rows that remain, so a
    band across the top does not hide a band down the side.
    """
    height, width = pixels.shape
    scale = min(1.0, BORDER_CHECK_SIDE / max(height, width))
    small = cv2.resize(pixels, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    row_stds = small.std(axis=1)
    top, bottom = _uniform_run(row_stds), _uniform_run(row_stds[::-1])
    inner = small[top : len(row_stds) - bottom] if top + bottom < len(row_stds) else small
    column_stds = inner.std(axis=0)
    left, right = _uniform_run(column_stds), _uniform_run(column_stds[::-1])
    rows, columns = small.shape
    return top / rows, bottom / rows, left / columns, right / columns


def _border_end(share: float, length: int, line: Callable[[int], np.ndarray]) -> int:
    """How many full-resolution lines a border of `share` (0: none to crop) takes from a side of `length`.

    The reduced copy blends the border's last line with the image, so the end
    goes on from its estimate while the original's lines stay uniform (a thin
    leftover edge shifted the call).
    """
    if not share:
        return 0
    end, limit = round(share * length), int(length * MAX_CROPPED_BORDER)
    while end < limit and float(line(end).std()) <= BORDER_LINE_STD:
        end += 1
    return end


def crop_wide_border(pixels: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The image without borders wider than MIN_CROPPED_BORDER, and a note saying what was cut."""
    shares = uniform_border(pixels)
    cut = [share if share > MIN_CROPPED_BORDER else 0.0 for share in shares]
    if not any(cut):
        return pixels, None
    height, width = pixels.shape
    top = _border_end(cut[0], height, lambda i: pixels[i])
    bottom = _border_end(cut[1], height, lambda i: pixels[height - 1 - i])
    rows = pixels[top : height - bottom]
    left = _border_end(cut[2], width, lambda i: rows[:, i])
    right = _border_end(cut[3], width, lambda i: rows[:, width - 1 - i])
    if min(height - top - bottom, width - left - right) < MIN_SIDE:
        return pixels, None
    sides = ", ".join(f"{side} {share:.0%}" for side, share in zip(("top", "bottom", "left", "right"), cut) if share)
    note = (f"A uniform border ({sides} of the image) was cropped: the model and its explanations see the X-ray "
            "without it.")
    return np.ascontiguousarray(pixels[top : height - bottom, left : width - right]), note


def decode_image(data: bytes, name: str = "") -> DecodedImage:
    """Decode JPEG, PNG or DICOM bytes to an 8-bit grayscale image, a wide uniform border cropped.

    Raises ImageInputError, and only that, for anything that is not a usable
    image, with a message that names the file and the problem.
    """
    if not data:
        raise ImageInputError(f"{_label(name)} is empty (0 bytes).")
    check_file_bytes(len(data), name)
    try:
        image = _decode_dicom(data, name) if _is_dicom(data, name) else _decode_raster(data, name)
        image.pixels, note = crop_wide_border(image.pixels)
        if note:
            image.notes.append(note)
        return image
    except ImageInputError:
        raise
    except (MemoryError, RecursionError) as error:
        raise ImageInputError(f"{_label(name)} is too large or too complex to decode.") from error
    except Exception as error:
        raise ImageInputError(f"{_label(name)} could not be decoded ({type(error).__name__}: {error}).") from error


def read_image(path: str | Path) -> DecodedImage:
    """Decode an image file from disk; unreadable files raise ImageInputError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImageInputError(f"'{path.name}' cannot be read ({error.strerror}).") from error
    return decode_image(data, path.name)


def to_model_input(pixels: np.ndarray, image_size: int) -> np.ndarray:
    """Resize a grayscale X-ray to the network's square input and equalise its contrast.

    Resizing first and equalising second makes a full-resolution original and a
    small copy of it give nearly the same input.
    """
    square = cv2.resize(pixels, (SOURCE_SIZE, SOURCE_SIZE), interpolation=cv2.INTER_AREA)
    resized = cv2.resize(square, (image_size, image_size), interpolation=cv2.INTER_AREA)
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP_LIMIT, tileGridSize=CLAHE_TILES)
    return clahe.apply(resized).astype(np.float32)[..., np.newaxis]
