"""Decompress data from outside (zip members, deflated DICOM) with a hard cap on the bytes that come out.

A header's declared size is a claim, not a bound: Python's zipfile and pydicom
decompress a whole bzip2, LZMA or deflate block before cutting it to the
declared size, so a 615 KB zip whose member declared 1,000 bytes grew the
server by 6 GB. Here the compressed bytes are fed in small chunks and every
decompressor is asked for at most the bytes still allowed (the standard
library's max_length), so the output, and the memory, stop at the cap the
moment it is passed, whatever the data says. The cap is the smallest of what
the header declares, the largest radiograph file (MAX_FILE_BYTES) and
MAX_COMPRESSION_RATIO times the compressed size.
"""
from __future__ import annotations

import bz2
import lzma
import struct
import zipfile
import zlib
from typing import Protocol

from model.errors import ImageInputError
from model.imaging.decoded import MAX_FILE_BYTES, file_label

# Compressed bytes fed to a decompressor at a time.
FEED_BYTES = 64 * 1024
# X-ray files are compressed already (JPEG, PNG) or compress a few times at most
# (uncompressed DICOM, black borders included); a member that grows more than
# this, beyond its first MIN_CAP_BYTES, is a bomb, not a radiograph.
MAX_COMPRESSION_RATIO = 100
MIN_CAP_BYTES = 1_000_000
# A zip member's local header (APPNOTE.TXT 4.3.7): 30 fixed bytes, then the name and the extra field,
# whose lengths are the two 16-bit fields at byte 26; the member's data follows them.
LOCAL_HEADER = b"PK\x03\x04"
LOCAL_HEADER_BYTES = 30
LOCAL_NAME_LENGTHS = 26
# LZMA in a zip (APPNOTE.TXT 5.8.8): a 2-byte version, a 2-byte properties length, then the properties.
LZMA_PROPERTIES_LENGTH = 2
LZMA_PROPERTIES_BYTES = 5
LZMA_MIN_DICTIONARY = 4096  # liblzma's smallest
UTF8_NAME_FLAG = 0x800  # general purpose bit 11: the name is UTF-8, else code page 437
ZIP_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "LZMA",
}


class Decompressor(Protocol):
    """The interface of bz2.BZ2Decompressor and lzma.LZMADecompressor: input is buffered, output bounded."""

    eof: bool
    needs_input: bool

    def decompress(self, data: bytes, max_length: int = -1) -> bytes: ...


class RawDeflate:
    """zlib's raw deflate with the bz2/lzma interface (zlib keeps unread input in unconsumed_tail instead)."""

    def __init__(self) -> None:
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self.needs_input = True

    @property
    def eof(self) -> bool:
        return self._inflater.eof

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        output = self._inflater.decompress(self._inflater.unconsumed_tail + data, max(max_length, 0))
        self.needs_input = not self._inflater.unconsumed_tail
        return output


class Stored:
    """A member stored without compression: its bytes are its content."""

    def __init__(self) -> None:
        self.eof = False
        self.needs_input = True
        self._pending = b""

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        self._pending += data
        cut = len(self._pending) if max_length < 0 else max_length
        output, self._pending = self._pending[:cut], self._pending[cut:]
        self.needs_input = not self._pending
        return output


def inflate(compressed: bytes | memoryview, decompressor: Decompressor, cap: int) -> bytearray | None:
    """All that `compressed` decompresses to, or None the moment it would pass `cap` bytes."""
    output = bytearray()
    for start in range(0, len(compressed), FEED_BYTES):
        chunk = bytes(compressed[start : start + FEED_BYTES])
        while not decompressor.eof:
            output += decompressor.decompress(chunk, cap + 1 - len(output))
            if len(output) > cap:
                return None
            chunk = b""
            if decompressor.needs_input:
                break
        if decompressor.eof:
            break
    return output


def compressed_cap(compressed_bytes: int, declared_bytes: int | None = None) -> int:
    """The most a stream of `compressed_bytes` may decompress to: declared, ratio and file limits together."""
    cap = min(MAX_FILE_BYTES, max(MIN_CAP_BYTES, MAX_COMPRESSION_RATIO * compressed_bytes))
    return cap if declared_bytes is None else min(cap, declared_bytes)


def _over_cap(what: str, compressed_bytes: int, declared_bytes: int | None) -> str:
    """Why a stream passed its cap: the tightest of the limits compressed_cap combines."""
    cap = compressed_cap(compressed_bytes)
    if declared_bytes is not None and declared_bytes <= cap:
        return (
            f"{what} unpacks to more than the {declared_bytes:,} bytes its zip entry declares: a falsified size, "
            "as zip bombs have. It was not read further."
        )
    if cap == MAX_FILE_BYTES:
        return (
            f"{what} unpacks to more than {MAX_FILE_BYTES / 1e6:,.0f} MB, far more than any radiograph; "
            "it was not read further."
        )
    return (
        f"{what} unpacks to more than {cap:,} bytes from {compressed_bytes:,} compressed bytes; X-ray files do not "
        f"compress that well (at most {MAX_COMPRESSION_RATIO} to 1 is accepted), so it was not read further."
    )


def _lzma_member(raw: memoryview, cap: int) -> tuple[Decompressor, memoryview]:
    """The decompressor of a zip's LZMA member and its compressed stream, after the properties header.

    The dictionary the member asks for (up to 4 GiB) is reserved when the
    decompressor is made; LZMA never refers further back than what it has
    produced, so one the size of the cap decodes every member the cap allows.
    """
    (length,) = struct.unpack_from("<H", raw, LZMA_PROPERTIES_LENGTH)
    start = LZMA_PROPERTIES_LENGTH + 2
    properties = bytes(raw[start : start + length])
    if length != LZMA_PROPERTIES_BYTES or len(properties) != LZMA_PROPERTIES_BYTES:
        raise ValueError("its LZMA properties are malformed")
    bits = properties[0]
    dictionary = min(int.from_bytes(properties[1:], "little"), max(LZMA_MIN_DICTIONARY, cap))
    filters = [{"id": lzma.FILTER_LZMA1, "dict_size": dictionary, "lc": bits % 9, "lp": bits // 9 % 5, "pb": bits // 45}]
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters), raw[start + length :]


def _member_stream(data: bytes, info: zipfile.ZipInfo, cap: int) -> tuple[Decompressor, memoryview]:
    """A member's decompressor and compressed bytes, located from its local header in the archive's bytes.

    As zipfile does, the local header must name the member the directory does.
    """
    offset = info.header_offset
    if data[offset : offset + len(LOCAL_HEADER)] != LOCAL_HEADER:
        raise ValueError("its local header is missing")
    name_length, extra_length = struct.unpack_from("<HH", data, offset + LOCAL_NAME_LENGTHS)
    name = data[offset + LOCAL_HEADER_BYTES : offset + LOCAL_HEADER_BYTES + name_length]
    if name.decode("utf-8" if info.flag_bits & UTF8_NAME_FLAG else "cp437", "replace") != info.orig_filename:
        raise ValueError("its local header names another file")
    start = offset + LOCAL_HEADER_BYTES + name_length + extra_length
    raw = memoryview(data)[start : start + info.compress_size]
    if len(raw) != info.compress_size:
        raise ValueError("the archive ends inside it")
    if info.compress_type == zipfile.ZIP_LZMA:
        return _lzma_member(raw, cap)
    decompressors = {zipfile.ZIP_STORED: Stored, zipfile.ZIP_DEFLATED: RawDeflate, zipfile.ZIP_BZIP2: bz2.BZ2Decompressor}
    return decompressors[info.compress_type](), raw


def read_member(data: bytes, info: zipfile.ZipInfo) -> bytes:
    """One zip member's content from the archive's bytes, refused (ImageInputError naming it) past its cap.

    Stored, deflate, bzip2 and LZMA members are read; the content must have
    the declared size and CRC-32, as zipfile checks.
    """
    what = file_label(info.filename)
    if info.compress_type not in ZIP_METHODS:
        raise ImageInputError(
            f"{what} is compressed with zip method {info.compress_type}, which this app does not read; "
            f"zip it again with ordinary compression ({', '.join(ZIP_METHODS.values())})."
        )
    cap = compressed_cap(info.compress_size, info.file_size)
    try:
        decompressor, compressed = _member_stream(data, info, cap)
        content = inflate(compressed, decompressor, cap)
    except (ValueError, struct.error, zlib.error, lzma.LZMAError, OSError, EOFError, MemoryError) as error:
        raise ImageInputError(f"{what} is damaged in the archive and could not be unpacked.", detail=str(error)) from error
    if content is None:
        raise ImageInputError(_over_cap(what, info.compress_size, info.file_size))
    if len(content) != info.file_size:  # the cap allows no more, so this is less: cut short
        raise ImageInputError(f"{what} is cut short in the archive and could not be unpacked.")
    if zlib.crc32(content) != info.CRC:
        raise ImageInputError(f"{what} is damaged in the archive: its checksum does not match its content.")
    return bytes(content)


def inflate_deflated(compressed: bytes | memoryview, what: str) -> bytes:
    """A deflated stream (a DICOM data set in Deflated Explicit VR Little Endian), refused past its cap."""
    decompressor = RawDeflate()
    try:
        content = inflate(compressed, decompressor, compressed_cap(len(compressed)))
    except zlib.error as error:
        raise ImageInputError(f"{what} has deflated data that is damaged.", detail=str(error)) from error
    if content is None:
        raise ImageInputError(_over_cap(what, len(compressed), None))
    if not decompressor.eof:
        raise ImageInputError(f"{what} has deflated data that is cut short.")
    return bytes(content)
