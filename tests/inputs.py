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
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, generate_uid

from model.imaging.dicom import read_file_meta
from model.imaging.inflate import LOCAL_HEADER_BYTES, LOCAL_NAME_LENGTHS
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


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def huge_png_header(width: int, height: int) -> bytes:
    """A PNG that declares an enormous size but carries almost no data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + png_chunk(b"IEND", b""))


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


def half_transparent_png(pixels: np.ndarray) -> bytes:
    """The X-ray at half opacity, as an image editor's layer exported with its transparency."""
    rgba = np.dstack([pixels, pixels, pixels, np.full_like(pixels, 128)])
    return encode(Image.fromarray(rgba, "RGBA"), "PNG")


def garbled_dicom(pixels: np.ndarray) -> bytes:
    """A DICOM whose header is intact but whose pixel data was overwritten with garbage (a broken transfer)."""
    data = dicom_bytes(pixels.astype(np.uint16) * 16)
    header = len(data) - pixels.size * 2 - 12  # the pixel data element's tag, VR and length take 12 bytes
    return data[:header] + random_bytes(5000, 4)


def deflated_dicom(extra_zeros: int) -> bytes:
    """A Deflated Explicit VR Little Endian DICOM whose deflated data set trails `extra_zeros` zero bytes (a bomb)."""
    honest = dicom_bytes(gradient().astype(np.uint16) * 16, transfer_syntax=DeflatedExplicitVRLittleEndian)
    _, start = read_file_meta(honest)
    data_set = zlib.decompress(honest[start:], -zlib.MAX_WBITS)
    deflater = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = [deflater.compress(data_set)] + [deflater.compress(ZEROS) for _ in range(extra_zeros // len(ZEROS))]
    return honest[:start] + b"".join(body) + deflater.flush()


def png_text_bomb(inflated: int) -> bytes:
    """A small valid PNG carrying a compressed text chunk (zTXt) that inflates to `inflated` bytes."""
    deflater = zlib.compressobj(9)
    text = b"".join(deflater.compress(ZEROS) for _ in range(inflated // len(ZEROS))) + deflater.flush()
    image = encode(Image.fromarray(gradient()), "PNG")
    end = image.rindex(b"IEND") - 4  # before the IEND chunk's length
    return image[:end] + png_chunk(b"zTXt", b"Comment\0\0" + text) + image[end:]


def cmyk_jpeg(pixels: np.ndarray) -> bytes:
    return encode(Image.fromarray(pixels).convert("RGB").convert("CMYK"), "JPEG", quality=95)


WINDOW_NAMES = ("SOFT TISSUE", "LUNG")  # what windowed_dicom offers, the first the one it decodes with


def windowed_dicom(pixels: np.ndarray, **extra) -> bytes:
    """A 12-bit DX DICOM of `pixels` with two named windows, as a CR/DX modality writes its presets."""
    return dicom_bytes(
        pixels.astype(np.uint16) * 16, WindowCenter=[2048, 1800], WindowWidth=[4096, 2000],
        WindowCenterWidthExplanation=list(WINDOW_NAMES), **extra,
    )


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


# An archive's name that markdown, HTML and plotly would all turn into links and bold text if not escaped.
HOSTILE_ARCHIVE = ("<b>ward</b> <a href='https://evil.example/x'>open</a> [prior](http://127.0.0.1:9/p) **y** "
                   "www.evil.example mail@evil.example.zip")

# Where a zip entry's fields lie (APPNOTE.TXT 4.3.7 and 4.3.12): (format, offset in the local header, offset in
# the central directory record); then where a central record's name and extra-field lengths are, and its name
# (the local header's are model.imaging.inflate's, which reads them).
ZIP_METHOD_FIELD = ("<H", 8, 10)
ZIP_SIZE_FIELD = ("<I", 22, 24)
CENTRAL_LENGTHS_AT, CENTRAL_NAME_AT = 28, 46
CENTRAL_RECORD = b"PK\x01\x02"
ZIP64_EXTRA, ZIP64_SIZES = 0x0001, 0xFFFFFFFF  # a ZIP64 entry's sizes: in this extra field, the uncompressed first
ZEROS = bytes(16 << 20)


def _headers(archive: bytes, member: str) -> list[tuple[int, int, int, int]]:
    """`member`'s local and central headers: offset, column in ZIP_*_FIELD, where the name and its length are."""
    offset = zipfile.ZipFile(io.BytesIO(archive)).getinfo(member).header_offset
    headers = [(offset, 1, LOCAL_HEADER_BYTES, LOCAL_NAME_LENGTHS)]
    at = archive.find(CENTRAL_RECORD)
    while at >= 0:
        (length,) = struct.unpack_from("<H", archive, at + CENTRAL_LENGTHS_AT)
        if archive[at + CENTRAL_NAME_AT : at + CENTRAL_NAME_AT + length] == member.encode():
            headers.append((at, 2, CENTRAL_NAME_AT, CENTRAL_LENGTHS_AT))
        at = archive.find(CENTRAL_RECORD, at + 1)
    return headers


def patch_entry(archive: bytes, member: str, field: tuple[str, int, int], value: int) -> bytes:
    """The archive with one field of `member`'s entry changed in both its headers, as a hostile zip is made."""
    data = bytearray(archive)
    for at, column, _, _ in _headers(archive, member):
        struct.pack_into(field[0], data, at + field[column], value)
    return bytes(data)


def declare_size(archive: bytes, member: str, declared: int) -> bytes:
    """The archive with `member`'s declared uncompressed size changed, as a zip bomb lies (ZIP64 entries too)."""
    data = bytearray(archive)
    for at, column, name_at, lengths_at in _headers(archive, member):
        size_at = at + ZIP_SIZE_FIELD[column]
        if struct.unpack_from("<I", data, size_at)[0] != ZIP64_SIZES:
            struct.pack_into("<I", data, size_at, declared)
            continue
        name_length, extra_length = struct.unpack_from("<HH", data, at + lengths_at)
        extra, end = at + name_at + name_length, at + name_at + name_length + extra_length
        while extra + 4 <= end:
            kind, size = struct.unpack_from("<HH", data, extra)
            if kind == ZIP64_EXTRA:
                struct.pack_into("<Q", data, extra + 4, declared)
            extra += 4 + size
    return bytes(data)


def zip_bomb(method: int, inflated: int, declared: int | None = 1000, others: dict[str, bytes] | None = None,
             bombs: tuple[str, ...] = ("NORMAL/bomb.png",)) -> bytes:
    """A zip whose `bombs` each inflate to `inflated` bytes of zeros but declare `declared` (None: the truth)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for member in bombs:
            info = zipfile.ZipInfo(member)
            info.compress_type = method
            with bundle.open(info, "w", force_zip64=inflated >= zipfile.ZIP64_LIMIT) as writer:
                for start in range(0, inflated, len(ZEROS)):
                    writer.write(ZEROS[: min(len(ZEROS), inflated - start)])
        for name, data in (others or {}).items():
            bundle.writestr(name, data)
    archive = buffer.getvalue()
    for member in bombs if declared is not None else ():
        archive = declare_size(archive, member, declared)
    return archive


REFERRAL_NOTE = b"Referral: 3-year-old, fever and cough for 4 days. Please review the chest X-ray.\n" * 8


@dataclass(frozen=True)
class PacsStudy:
    """A made-up patient and study around one `val/` X-ray, as a PACS would hold it."""

    patient_id: str
    patient_name: str
    accession: str
    study_date: str
    modality: str = "CR"
    view: str = "PA"
    age: str = "003Y"


def pacs_xray(pixels: np.ndarray, study: PacsStudy, transfer_syntax: str = ExplicitVRLittleEndian) -> bytes:
    """A CR or DX image of a chest X-ray (8-bit pixels stored as 12-bit values) with the patient, study and
    equipment modules a PACS expects; compressed with pydicom's own encoders when `transfer_syntax` asks."""
    storage = {"CR": "1.2.840.10008.5.1.4.1.1.1", "DX": "1.2.840.10008.5.1.4.1.1.1.1"}[study.modality]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = pydicom.Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = storage, meta.MediaStorageSOPInstanceUID
    dataset.StudyInstanceUID, dataset.SeriesInstanceUID = generate_uid(), generate_uid()
    dataset.PatientID, dataset.PatientName = study.patient_id, study.patient_name
    dataset.PatientBirthDate, dataset.PatientSex, dataset.PatientAge = "", "O", study.age
    dataset.AccessionNumber, dataset.StudyID, dataset.StudyDate, dataset.StudyTime = (
        study.accession, "1", study.study_date, "101500")
    dataset.ReferringPhysicianName = ""
    dataset.SeriesNumber, dataset.InstanceNumber = 1, 1
    dataset.Modality, dataset.BodyPartExamined, dataset.ViewPosition = study.modality, "CHEST", study.view
    dataset.Manufacturer = "test"
    dataset.PatientOrientation = ["L", "F"] if study.view in ("PA", "AP") else ""
    dataset.ImageType = ["ORIGINAL", "PRIMARY"]
    if study.modality == "DX":
        dataset.PresentationIntentType, dataset.ImageLaterality = "FOR PRESENTATION", "U"
        dataset.PixelIntensityRelationship, dataset.PixelIntensityRelationshipSign = "LOG", 1
        dataset.RescaleIntercept, dataset.RescaleSlope, dataset.RescaleType = 0, 1, "US"
        dataset.DetectorType, dataset.BurnedInAnnotation = "SCINTILLATOR", "NO"
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 12, 11, 0
    dataset.WindowCenter, dataset.WindowWidth = 2048, 4096
    dataset.PixelData = (pixels.astype(np.uint16) * 16).tobytes()
    if transfer_syntax != ExplicitVRLittleEndian:
        dataset.compress(transfer_syntax)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def store_studies(pacs, studies) -> None:
    """Put each (PacsStudy, transfer syntax, X-ray path) of `studies` into a test PACS (tests/services.py)."""
    for study, syntax, path in studies:
        pacs.store(pacs_xray(np.asarray(Image.open(path).convert("L")), study, syntax))
