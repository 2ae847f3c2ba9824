"""Files a clinician might upload, readable or not, generated on the fly so no odd binary is committed.

The unit tests of the decoder, the bad-input sweep through the page and the
browser tests all draw on these, so each case is built one way.
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.conftest import encode

MIME = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".dcm": "application/dicom",
        ".txt": "text/plain", ".zip": "application/zip"}


@dataclass(frozen=True)
class Upload:
    """One file as the uploader receives it."""

    name: str
    data: bytes

    @property
    def mime(self) -> str:
        return MIME.get(self.name[self.name.rfind("."):].lower(), "application/octet-stream")

    def for_app_test(self) -> tuple[str, bytes, str]:
        return self.name, self.data, self.mime

    def for_browser(self) -> dict:
        """Playwright's FilePayload."""
        return {"name": self.name, "mimeType": self.mime, "buffer": self.data}


def gradient(height: int = 300, width: int = 400) -> np.ndarray:
    """A grayscale test image with structure in both directions."""
    y, x = np.mgrid[0:height, 0:width]
    return ((x * 255 // width + y * 128 // height) % 256).astype(np.uint8)


def dicom_bytes(pixels: np.ndarray | None, photometric: str = "MONOCHROME2", **extra) -> bytes:
    """A single-frame DX DICOM holding `pixels` as 12-bit values (no pixel data when None)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = extra.pop("transfer_syntax", ExplicitVRLittleEndian)
    dataset = pydicom.Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID = meta.MediaStorageSOPClassUID
    dataset.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    dataset.Modality = "DX"
    dataset.PhotometricInterpretation = photometric
    dataset.SamplesPerPixel = 1
    if pixels is not None:
        dataset.Rows, dataset.Columns = pixels.shape
        dataset.BitsAllocated = 16
        dataset.BitsStored = 12
        dataset.HighBit = 11
        dataset.PixelRepresentation = 0
        data = pixels.astype(np.uint16).tobytes()
        dataset.PixelData = encapsulate([data]) if meta.TransferSyntaxUID.is_compressed else data
    for key, value in extra.items():
        setattr(dataset, key, value)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG that declares an enormous size but carries almost no data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def random_bytes(size: int, seed: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def truncated(data: bytes) -> bytes:
    """The first half of a file, as an interrupted copy or download leaves it."""
    return data[: len(data) // 2]


def sixteen_bit_png(pixels: np.ndarray) -> bytes:
    return encode(Image.fromarray(pixels.astype(np.uint16) * 257), "PNG")


def rgba_png(pixels: np.ndarray) -> bytes:
    """Fully opaque RGBA: the decoder still has to drop the alpha channel."""
    rgba = np.dstack([pixels, pixels, pixels, np.full_like(pixels, 255)])
    return encode(Image.fromarray(rgba, "RGBA"), "PNG")


def cmyk_jpeg(pixels: np.ndarray) -> bytes:
    return encode(Image.fromarray(pixels).convert("RGB").convert("CMYK"), "JPEG", quality=95)


def monochrome1_dicom(pixels: np.ndarray) -> bytes:
    """The same X-ray stored inverted (bright means air), as some detectors write it."""
    return dicom_bytes((255 - pixels.astype(np.uint16)) * 16, "MONOCHROME1")


def blocky_png(pixels: np.ndarray, side: int) -> bytes:
    """The X-ray blown up to side x side in flat 100-pixel blocks, which PNG compresses to almost nothing."""
    coarse = cv2.resize(pixels, (side // 100, side // 100), interpolation=cv2.INTER_AREA)
    return encode(Image.fromarray(cv2.resize(coarse, (side, side), interpolation=cv2.INTER_NEAREST)), "PNG")


def make_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as bundle:
        for name, data in members.items():
            bundle.writestr(name, data)
    return buffer.getvalue()


REFERRAL_NOTE = b"Referral: 3-year-old, fever and cough for 4 days. Please review the chest X-ray.\n" * 8
