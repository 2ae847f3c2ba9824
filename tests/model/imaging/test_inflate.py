"""Decompressing what users send stops at a hard cap, whatever its headers declare, and names what was refused.

Each bomb inflates to hundreds of megabytes; read unbounded (as zipfile and
pydicom did) it would grow the process by that much. The peak growth is read
from the process's own high-water mark (tests/memory.py).
"""
from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from model.errors import ImageInputError
from model.imaging.decode import decode_image
from model.imaging.inflate import LOCAL_HEADER_BYTES, compressed_cap, read_member
from model.paths import PROJECT_ROOT
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
    cap = compressed_cap(info.compress_size)
    refusal = f"'{MEMBER}' unpacks to more than {cap:,} bytes from {info.compress_size:,} compressed bytes"
    with peak_growth() as peak, pytest.raises(ImageInputError, match=refusal):
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


def test_archives_laid_out_every_way_zip_allows_read_the_same(method: int) -> None:
    """Data before the archive (a self-extractor), sizes after the data (a data descriptor), ZIP64 records."""
    content = np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes()

    def written(stream: io.RawIOBase | io.BytesIO, zip64: bool = False) -> bytes:
        with zipfile.ZipFile(stream, "w") as bundle:
            info = zipfile.ZipInfo(MEMBER)
            info.compress_type = method
            with bundle.open(info, "w", force_zip64=zip64) as writer:
                writer.write(content)
        return stream.getvalue()

    class Unseekable(io.BytesIO):
        def seekable(self) -> bool:
            return False

    prepended = b"#!/bin/sh\nexit 0\n" + written(io.BytesIO())
    for archive in (prepended, written(Unseekable()), written(io.BytesIO(), zip64=True)):
        assert read_member(archive, member_of(archive)) == content
    lying = declare_size(written(io.BytesIO(), zip64=True), MEMBER, 1000)
    with pytest.raises(ImageInputError, match="its zip entry declares"):
        read_member(lying, member_of(lying))


# Run in a process whose address space is held to what it has plus this, so a 4 GiB reservation fails.
ADDRESS_SPACE_HEADROOM = 512 * MIB
LIMITED_READ = """
import io, re, resource, sys, zipfile
from model.imaging.inflate import read_member
data = open(sys.argv[1], "rb").read()
info = zipfile.ZipFile(io.BytesIO(data)).getinfo(sys.argv[2])
size = int(re.search(r"VmSize:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
resource.setrlimit(resource.RLIMIT_AS, (size + int(sys.argv[3]),) * 2)
sys.stdout.write(str(len(read_member(data, info))))
"""


def test_an_lzma_member_asking_for_a_4_gib_dictionary_is_read_with_one_the_size_of_its_cap(tmp_path) -> None:
    """liblzma reserves the whole dictionary a stream asks for; unclamped, this member would need 4 GiB of it."""
    archive = bytearray(zip_bomb(zipfile.ZIP_LZMA, 100_000, declared=None))
    info = member_of(bytes(archive))
    dictionary_at = info.header_offset + LOCAL_HEADER_BYTES + len(MEMBER) + 4 + 1  # after version, length, bits
    archive[dictionary_at : dictionary_at + 4] = (0xFFFFFFFF).to_bytes(4, "little")
    path = tmp_path / "dictionary.zip"
    path.write_bytes(archive)
    read = subprocess.run([sys.executable, "-c", LIMITED_READ, str(path), MEMBER, str(ADDRESS_SPACE_HEADROOM)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert read.returncode == 0, read.stderr
    assert read.stdout == "100000"


def test_a_compression_method_this_app_does_not_read_is_named() -> None:
    deflate64 = 9
    archive = patch_entry(zip_bomb(zipfile.ZIP_DEFLATED, 1000, declared=None), MEMBER, ZIP_METHOD_FIELD, deflate64)
    with pytest.raises(ImageInputError, match=f"'{MEMBER}' is compressed with zip method 9"):
        read_member(archive, member_of(archive))


def test_a_deflated_dicom_decodes_and_a_deflate_bomb_in_one_is_refused_with_bounded_memory() -> None:
    image = decode_image(deflated_dicom(0), "deflated.dcm")
    assert np.array_equal(image.pixels, decode_image(dicom_bytes(gradient().astype(np.uint16) * 16)).pixels)
    bomb = deflated_dicom(1024 * MIB)
    refusal = r"'bomb.dcm' unpacks to more than [\d,]+ bytes from [\d,]+ compressed bytes"
    with peak_growth() as peak, pytest.raises(ImageInputError, match=refusal):
        decode_image(bomb, "bomb.dcm")
    cap = compressed_cap(len(bomb))  # the data set after the file meta is a little shorter
    assert peak.bytes < 2 * cap + BOMB_PEAK_LIMIT, f"{peak.mib:.0f} MiB for a cap of {cap / MIB:.0f} MiB"


def test_a_compressed_frame_larger_than_its_dicom_header_is_refused_before_decoding() -> None:
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes(gradient().astype(np.uint16) * 16)))
    dataset.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    dataset.Rows, dataset.Columns = 100, 120
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    with pytest.raises(ImageInputError, match=r"header describes a 120x100 image of 1 sample\(s\) per pixel, but its "
                                              "compressed image is 400x300 pixels of 1"):
        decode_image(buffer.getvalue(), "mismatch.dcm")


def test_a_compressed_frame_with_more_components_than_its_header_is_refused() -> None:
    rgb = np.dstack([gradient()] * 3)
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes(gradient().astype(np.uint16) * 16)))
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 8, 8, 7
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation, dataset.PlanarConfiguration = 3, "RGB", 0
    dataset.compress(JPEG2000Lossless, rgb, encoding_plugin="pylibjpeg")
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    refusal = r"image of 1 sample\(s\) per pixel, but its compressed image is 400x300 pixels of 3"
    with pytest.raises(ImageInputError, match=refusal):
        decode_image(buffer.getvalue(), "components.dcm")


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
