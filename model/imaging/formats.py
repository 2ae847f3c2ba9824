"""The file formats the app reads: one table that file lists, the uploader, sniffing and messages all derive from.

A format added or dropped here changes which files are listed in folders
and archives, what the uploader offers and what every refusal suggests.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePath


@dataclass(frozen=True)
class ImageFormat:
    """One kind of file the app reads: its name, the suffixes of its files and what decodes it.

    pillow_names are Pillow's names for the format (Pillow decodes it, by its
    content); empty means pydicom decodes it. name_suffix adds the first suffix
    to the name in advice, for formats whose files users know by their suffix.
    """

    name: str
    suffixes: tuple[str, ...]
    pillow_names: frozenset[str] = frozenset()
    name_suffix: bool = False

    @property
    def advised_as(self) -> str:
        return f"{self.name} ({self.suffixes[0]})" if self.name_suffix else self.name


# MPO is how Pillow names the JPEG a phone writes with a second, preview picture.
JPEG = ImageFormat("JPEG", (".jpeg", ".jpg"), frozenset({"JPEG", "MPO"}))
PNG = ImageFormat("PNG", (".png",), frozenset({"PNG"}))
DICOM = ImageFormat("DICOM", (".dcm", ".dicom"), name_suffix=True)
FORMATS = (JPEG, PNG, DICOM)

IMAGE_SUFFIXES = frozenset(suffix for image_format in FORMATS for suffix in image_format.suffixes)


def _either(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " or " + names[-1]


FORMAT_NAMES = _either([image_format.name for image_format in FORMATS])
UPLOAD_ADVICE = f"upload a {_either([image_format.advised_as for image_format in FORMATS])} file."

JPEG_START = b"\xff\xd8\xff"
DICOM_PREFIX = b"DICM"
# A DICOM data set written without the 128-byte preamble and "DICM" starts
# with its lowest group: the file meta group (0002) or the identifying group
# (0008), little- or big-endian. Anything else is not worth parsing: pydicom
# reads any bytes with force=True, and 49 MB of zeros took it 12 s.
DATASET_STARTS = (b"\x02\x00", b"\x08\x00", b"\x00\x02", b"\x00\x08")


def has_dicom_prefix(data: bytes) -> bool:
    return data[128:132] == DICOM_PREFIX


def starts_like_a_dataset(data: bytes) -> bool:
    return data[:2] in DATASET_STARTS


def is_dicom(data: bytes, name: str) -> bool:
    """By content first (a preamble, or a bare data set as older systems write it), then by the name."""
    return has_dicom_prefix(data) or starts_like_a_dataset(data) or name.lower().endswith(DICOM.suffixes)


def pillow_format(pillow_name: str | None) -> ImageFormat | None:
    """The accepted format Pillow identified, or None for one the app does not read (GIF, TIFF, ...)."""
    return next((image_format for image_format in FORMATS if pillow_name in image_format.pillow_names), None)


def is_image_name(path: PurePath) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def image_files(folder: Path) -> list[Path]:
    """The image files anywhere under `folder`, in a stable order."""
    return sorted(path for path in folder.rglob("*") if path.is_file() and is_image_name(path))
