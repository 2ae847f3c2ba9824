"""Decode an upload's bytes (JPEG, PNG or DICOM) to the 8-bit grayscale X-ray every later step reads.

The bytes are read here and nowhere else: what they show that the grey levels
no longer do (how colourful the file is) is measured on the way and kept on
the DecodedImage for the trust checks.
"""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import libjpeg
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from model.errors import ImageInputError
from model.imaging.border import wide_border
from model.imaging.decoded import DecodedImage, check_file_bytes, check_size, file_label, to_uint8
from model.imaging.dicom import decode_dicom
from model.imaging.formats import JPEG, JPEG_START, UPLOAD_ADVICE, is_dicom, pillow_format
from model.imaging.window import high_bit_depth_levels

# Pillow's decompression-bomb guard is off: it warns through the process-wide
# warning filters, which Streamlit's script threads share (another thread's
# filter turned the warning into an error mid-decode). check_size applies the
# one limit from the header instead, before any pixel is decoded.
Image.MAX_IMAGE_PIXELS = None
# The reference libjpeg fills a cut-off image in silently; a missing end marker
# near the end of the file betrays it (encoders may pad after it).
JPEG_END = b"\xff\xd9"
JPEG_END_SEARCH = 64
# Pillow's PNG reader refuses text chunks and ICC profiles that inflate past PngImagePlugin.MAX_TEXT_CHUNK or,
# together, MAX_TEXT_MEMORY, with a ValueError naming the limit.
PILLOW_TEXT_LIMIT = "MAX_TEXT_"
HIGH_BIT_DEPTH_BITS = {"I;16": 16, "I;16B": 16, "I;16L": 16, "I": 32, "F": 32}
HIGH_BIT_DEPTH_MODES = tuple(HIGH_BIT_DEPTH_BITS)
GREY_MODES = ("1", "L", "LA", *HIGH_BIT_DEPTH_MODES)
# Colour is measured on a copy at most COLOUR_SIDE pixels long; a pixel counts
# as coloured with HSV saturation and value above these (0-255).
COLOUR_SIDE = 512
COLOUR_SATURATION = 64
COLOUR_VALUE = 40
OPAQUE = 255


def _colour_fraction(image: Image.Image, data: bytes) -> float:
    """The share of strongly coloured pixels in the file as stored (not turned upright); 0 for grayscale files.

    A JPEG's copy is decoded anew from `data` at a reduced DCT scale (Pillow's
    draft): the limit in model.trust.ood was set on that measure, which
    shrinking the full decode would not reproduce to the last digit. Any other
    format's copy is `image` itself, shrunk in place: the caller has
    finished with it.
    """
    if image.mode in GREY_MODES:
        return 0.0
    try:
        if image.format in JPEG.pillow_names:
            image = Image.open(io.BytesIO(data))
            image.draft("RGB", (COLOUR_SIDE, COLOUR_SIDE))
        image.thumbnail((COLOUR_SIDE, COLOUR_SIDE))
        rgb = np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return 0.0
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    return float(np.mean((hsv[..., 1] > COLOUR_SATURATION) & (hsv[..., 2] > COLOUR_VALUE)))


def _decode_other_jpeg(data: bytes, name: str) -> DecodedImage:
    """A JPEG Pillow cannot read (12-bit, lossless, or a coding its libjpeg lacks), by the ISO reference libjpeg.

    That is the decoder pydicom uses for the same processes inside DICOM; only
    when it fails too is the file called damaged.
    """
    try:
        parameters = libjpeg.get_parameters(data)
    except RuntimeError as error:
        raise ImageInputError(f"{file_label(name)} is a JPEG file that is damaged or truncated.", str(error)) from error
    check_size(int(parameters["columns"]), int(parameters["rows"]), name)
    if JPEG_END not in data[-JPEG_END_SEARCH:]:
        raise ImageInputError(f"{file_label(name)} is a JPEG file that is truncated (it has no end marker).")
    colour = int(parameters["nr_components"]) == 3
    try:
        values = libjpeg.decode(data, colour_transform=1 if colour else 0)
    except RuntimeError as error:
        raise ImageInputError(
            f"{file_label(name)} is a JPEG file whose image data is damaged or truncated.", str(error)
        ) from error
    notes: list[str] = []
    pixels, grey = values, None
    if values.dtype != np.uint8:
        pixels = to_uint8(values)
        notes.append(f"{parameters['precision']}-bit JPEG rescaled to 8 bits.")
        grey = high_bit_depth_levels(values, int(parameters["precision"])) if values.ndim == 2 else None
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels[..., :3], cv2.COLOR_RGB2GRAY)
        notes.append("RGB image converted to grayscale.")
    return DecodedImage(np.ascontiguousarray(pixels), JPEG.name, notes, grey=grey)


def _unreadable(name: str, error: Exception) -> ImageInputError:
    """Why Pillow could not read a file: its own limit on compressed text and profiles (a bomb), or damage."""
    if isinstance(error, ValueError) and PILLOW_TEXT_LIMIT in str(error):
        return ImageInputError(
            f"{file_label(name)} carries compressed text or a colour profile that unpacks to more than an image "
            "file may hold, as decompression bombs do; it was not read further.", str(error)
        )
    return ImageInputError(f"{file_label(name)} is damaged or truncated and cannot be decoded.", str(error))


def _decode_raster(data: bytes, name: str) -> DecodedImage:
    try:
        image = Image.open(io.BytesIO(data))
    except (OSError, ValueError, SyntaxError) as error:  # UnidentifiedImageError is an OSError
        if data.startswith(JPEG_START):
            return _decode_other_jpeg(data, name)
        if isinstance(error, UnidentifiedImageError):
            raise ImageInputError(f"{file_label(name)} is not an image this app can read; {UPLOAD_ADVICE}") from error
        raise _unreadable(name, error) from error
    image_format = pillow_format(image.format)
    if image_format is None:
        raise ImageInputError(f"{file_label(name)} is a {image.format} image; {UPLOAD_ADVICE}")
    width, height = image.size
    check_size(width, height, name)
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)  # a new image, so `image` is left for _colour_fraction
    except (OSError, ValueError, SyntaxError) as error:
        if image_format is JPEG:
            decoded = _decode_other_jpeg(data, name)
            decoded.colour_fraction = _colour_fraction(image, data)
            return decoded
        raise _unreadable(name, error) from error
    colour = _colour_fraction(image, data)
    image = upright
    notes: list[str] = []
    mode = image.mode
    if mode in HIGH_BIT_DEPTH_MODES:
        values = np.asarray(image)
        notes.append(f"High bit-depth image ({mode}) rescaled to 8 bits.")
        return DecodedImage(to_uint8(values), image_format.name, notes, colour_fraction=colour,
                            grey=high_bit_depth_levels(values, HIGH_BIT_DEPTH_BITS[mode]))
    transparent = 0.0
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        transparent = float(np.mean(np.asarray(image.getchannel("A")) < OPAQUE))
        image = Image.alpha_composite(Image.new("RGBA", image.size, (0, 0, 0, OPAQUE)), image)
        notes.append("Transparency removed (composited on black).")
    elif mode == "CMYK":
        notes.append("CMYK image converted to grayscale.")
    elif mode not in ("L", "1"):
        notes.append(f"{mode} image converted to grayscale.")
    pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    return DecodedImage(pixels, image_format.name, notes, colour_fraction=colour, transparent_fraction=transparent)


def decode_image(data: bytes, name: str = "") -> DecodedImage:
    """Decode JPEG, PNG or DICOM bytes to an 8-bit grayscale image, a wide uniform border cropped.

    Raises ImageInputError, and only that, for anything that is not a usable
    image, with a message that names the file and the problem.
    """
    if not data:
        raise ImageInputError(f"{file_label(name)} is empty (0 bytes).")
    check_file_bytes(len(data), name)
    try:
        image = decode_dicom(data, name) if is_dicom(data, name) else _decode_raster(data, name)
        border = wide_border(image.pixels)
        if border is not None:
            rows, columns, note = border
            image.pixels = np.ascontiguousarray(image.pixels[rows, columns])
            image.grey = image.grey.cropped(rows, columns) if image.grey is not None else None
            image.notes.append(note)
        return image
    except ImageInputError:
        raise
    except (MemoryError, RecursionError) as error:
        raise ImageInputError(f"{file_label(name)} is too large or too complex to decode.") from error
    except Exception as error:
        raise ImageInputError(
            f"{file_label(name)} could not be decoded: it is damaged or not what its format declares.",
            f"{type(error).__name__}: {error}",
        ) from error


def read_image(path: str | Path) -> DecodedImage:
    """Decode an image file from disk; unreadable files raise ImageInputError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ImageInputError(f"'{path.name}' cannot be read ({error.strerror}).") from error
    return decode_image(data, path.name)
