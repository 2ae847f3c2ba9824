"""Decompressing what users send stops at a hard cap, whatever its headers declare, and names what was refused.

Each bomb inflates to hundreds of megabytes; read unbounded (as zipfile and
pydicom did) it would grow the process by that much. The peak growth is read
from the process's own high-water mark (tests/memory.py).
"""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from model.errors import ImageInputError
from model.imaging.decode import decode_image
from model.imaging.inflate import MAX_COMPRESSION_RATIO, read_member
from tests.inputs import (
    ZIP_METHOD_FIELD,
    declare_size,
    deflated_dicom,
    dicom_bytes,
    garbled_dicom,
    gradient,
    patch_entry,
    png_text_bomb,
    zip_bomb,
)
from tests.memory import MIB, peak_growth

METHODS = {"stored": zipfile.ZIP_STORED, "deflate": zipfile.ZIP_DEFLATED, "bzip2": zipfile.ZIP_BZIP2,
           "LZMA": zipfile.ZIP_LZMA}
BOMB_BYTES = 256 * MIB
STORED_BYTES = 32 * MIB  # a stored member is as large in the archive as out of it
# What reading a refused bomb may add at its peak: the decompressors' state and a few chunks.
BOMB_PEAK_LIMIT = 16 * MIB
MEMBER = "NORMAL/bomb.png"


def member_of(archive: bytes, name: str = MEMBER) -> zipfile.ZipInfo:
    return zipfile.ZipFile(io.BytesIO(archive)).getinfo(name)


@pytest.fixture(scope="module", params=list(METHODS))
def method(request) -> int:
    return METHODS[request.param]


def test_a_member_that_inflates_past_its_declared_size_is_refused_at_once_by_name(method: int) -> None:
    archive = zip_bomb(method, STORED_BYTES if method == zipfile.ZIP_STORED else BOMB_BYTES, declared=1000)
    with peak_growth() as peak, pytest.raises(ImageInputError) as refused:
        read_member(archive, member_of(archive))
    assert f"'{MEMBER}' unpacks to more than the 1,000 bytes its zip entry declares" in str(refused.value)
    assert peak.bytes < BOMB_PEAK_LIMIT, f"{peak.mib:.0f} MiB"


@pytest.mark.parametrize("method", [METHODS[name] for name in ("deflate", "bzip2", "LZMA")])  # stored cannot grow
def test_a_member_that_declares_its_size_honestly_is_still_held_to_a_plausible_ratio(method: int) -> None:
    archive = zip_bomb(method, BOMB_BYTES, declared=None)
    info = member_of(archive)
    cap = max(1_000_000, MAX_COMPRESSION_RATIO * info.compress_size)
    with peak_growth() as peak, pytest.raises(ImageInputError, match=f"'{MEMBER}' unpacks to more than 100 times"):
        read_member(archive, info)
    assert peak.bytes < 2 * cap + BOMB_PEAK_LIMIT, f"{peak.mib:.0f} MiB for a cap of {cap / MIB:.0f} MiB"


def test_ordinary_members_read_back_exactly(method: int) -> None:
    content = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes() + bytes(100_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as bundle:
        bundle.writestr("NORMAL/a.png", content)
        bundle.writestr("NORMAL/empty.png", b"")
    archive = buffer.getvalue()
    assert read_member(archive, member_of(archive, "NORMAL/a.png")) == content
    assert read_member(archive, member_of(archive, "NORMAL/empty.png")) == b""


def test_a_member_smaller_than_declared_or_with_a_wrong_checksum_is_called_damaged() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as bundle:
        bundle.writestr("NORMAL/a.png", b"x" * 1000)
    archive = buffer.getvalue()
    longer = declare_size(archive, "NORMAL/a.png", 2000)
    with pytest.raises(ImageInputError, match="'NORMAL/a.png' is cut short"):
        read_member(longer, member_of(longer, "NORMAL/a.png"))
    flipped = archive.replace(b"x" * 1000, b"y" + b"x" * 999)
    with pytest.raises(ImageInputError, match="checksum does not match"):
        read_member(flipped, member_of(flipped, "NORMAL/a.png"))


def test_a_compression_method_this_app_does_not_read_is_named() -> None:
    deflate64 = 9
    archive = patch_entry(zip_bomb(zipfile.ZIP_DEFLATED, 1000, declared=None), MEMBER, ZIP_METHOD_FIELD, deflate64)
    with pytest.raises(ImageInputError, match=f"'{MEMBER}' is compressed with zip method 9"):
        read_member(archive, member_of(archive))


def test_a_deflated_dicom_decodes_and_a_deflate_bomb_in_one_is_refused_with_bounded_memory() -> None:
    image = decode_image(deflated_dicom(0), "deflated.dcm")
    assert np.array_equal(image.pixels, decode_image(dicom_bytes(gradient().astype(np.uint16) * 16)).pixels)
    bomb = deflated_dicom(1024 * MIB)
    with peak_growth() as peak, pytest.raises(ImageInputError, match="'bomb.dcm' unpacks to more than 100 times"):
        decode_image(bomb, "bomb.dcm")
    cap = MAX_COMPRESSION_RATIO * len(bomb)
    assert peak.bytes < 2 * cap + BOMB_PEAK_LIMIT, f"{peak.mib:.0f} MiB for a cap of {cap / MIB:.0f} MiB"


def test_a_compressed_frame_larger_than_its_dicom_header_is_refused_before_decoding() -> None:
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes(gradient().astype(np.uint16) * 16)))
    dataset.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    dataset.Rows, dataset.Columns = 100, 120
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    with pytest.raises(ImageInputError, match="header describes a 120x100 image, but its compressed image is 400x300"):
        decode_image(buffer.getvalue(), "mismatch.dcm")


def test_a_dicom_header_followed_by_garbage_is_called_damaged_not_a_report() -> None:
    with pytest.raises(ImageInputError, match="is a damaged DICOM file: its header describes an image"):
        decode_image(garbled_dicom(gradient()), "garbage.dcm")
    data = dicom_bytes(gradient().astype(np.uint16) * 16)
    cut = data[: len(data) - gradient().size]
    with pytest.raises(ImageInputError, match="is a damaged DICOM file: its pixel data cannot be read") as refused:
        decode_image(cut, "cut.dcm")
    assert "less than expected" in refused.value.detail, "the decoder's words are kept, apart from the message"


def test_a_png_whose_text_chunk_inflates_without_bound_is_refused_by_pillows_own_limit() -> None:
    with peak_growth() as peak, pytest.raises(ImageInputError, match="'text.png' carries compressed text") as refused:
        decode_image(png_text_bomb(BOMB_BYTES), "text.png")
    assert "MAX_TEXT_CHUNK" in refused.value.detail
    assert peak.bytes < BOMB_PEAK_LIMIT, f"{peak.mib:.0f} MiB"
