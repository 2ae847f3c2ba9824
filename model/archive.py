"""Unpack an uploaded zip of labelled X-rays, refusing archives that are unsafe or unusable.

An upload comes from outside the machine: member paths must stay inside the
destination (no zip-slip), the unpacked size is bounded before anything is
written (no zip bomb), and the archive must hold one folder with NORMAL/ and
PNEUMONIA/ so its labels are unambiguous.
"""
from __future__ import annotations

import io
import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from model.dataset import CLASS_NAMES, IMAGE_SUFFIXES

MAX_UNPACKED_BYTES = 1_000_000_000
MAX_MEMBERS = 20_000
METADATA_FOLDER = "__MACOSX"


class ArchiveError(ValueError):
    """An uploaded archive that cannot be used; the message says why and what to upload instead."""


@dataclass
class UnpackedArchive:
    """The labelled folder unpacked from an archive, and the members that were left out."""

    folder: Path
    skipped: list[tuple[str, str]]


def _member_path(name: str, archive: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise ArchiveError(
            f"'{archive}' contains the unsafe path '{name}', which points outside the archive; "
            "the archive was refused. Zip the labelled folder again with relative paths."
        )
    return path


def _is_metadata(path: PurePosixPath) -> bool:
    """macOS Finder adds __MACOSX/ and ._ files; they are not images and not the user's data."""
    return METADATA_FOLDER in path.parts or path.name.startswith("._") or path.name == ".DS_Store"


def _labelled_folder(images: list[PurePosixPath], archive: str) -> PurePosixPath:
    """The shallowest folder that holds both class folders; refuses ties so labels are never guessed."""
    holders: dict[PurePosixPath, set[str]] = {}
    for path in images:
        for depth, part in enumerate(path.parts[:-1]):
            if part in CLASS_NAMES:
                holders.setdefault(PurePosixPath(*path.parts[:depth]), set()).add(part)
    complete = [folder for folder, classes in holders.items() if classes == set(CLASS_NAMES)]
    if not complete:
        raise ArchiveError(
            f"'{archive}' has no folder holding both NORMAL/ and PNEUMONIA/ with images in them; "
            "zip a folder laid out as NORMAL/<images> and PNEUMONIA/<images>."
        )
    shallowest = min(len(folder.parts) for folder in complete)
    candidates = sorted(str(folder) if folder.parts else "(top level)" for folder in complete
                        if len(folder.parts) == shallowest)
    if len(candidates) > 1:
        raise ArchiveError(
            f"'{archive}' holds several labelled folders ({', '.join(candidates)}); "
            "zip only the one you want scored."
        )
    return next(folder for folder in complete if len(folder.parts) == shallowest)


def unpack_labelled_zip(
    data: bytes,
    destination: Path,
    archive: str = "The archive",
    max_bytes: int = MAX_UNPACKED_BYTES,
    max_members: int = MAX_MEMBERS,
) -> UnpackedArchive:
    """Unpack the images of the labelled folder in a zip into `destination`.

    Raises ArchiveError for an archive that must not or cannot be used; members
    that cannot be unpacked (encrypted, corrupt) or are not images are skipped
    and listed with the reason.
    """
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
        raise ArchiveError(f"'{archive}' is not a readable zip archive ({error}).") from error
    with bundle:
        paths = {info.filename: _member_path(info.filename, archive) for info in bundle.infolist()}
        members = [info for info in bundle.infolist() if not info.is_dir()]
        if len(members) > max_members:
            raise ArchiveError(
                f"'{archive}' holds {len(members)} files; at most {max_members} are accepted. Split it up."
            )
        unpacked_size = sum(info.file_size for info in members)
        if unpacked_size > max_bytes:
            raise ArchiveError(
                f"'{archive}' would unpack to {unpacked_size / 1e6:,.0f} MB; at most {max_bytes / 1e6:,.0f} MB "
                "are accepted. Split it up."
            )
        skipped: list[tuple[str, str]] = []
        images: dict[PurePosixPath, zipfile.ZipInfo] = {}
        for info in members:
            path = paths[info.filename]
            if _is_metadata(path):
                continue
            if path.suffix.lower() in IMAGE_SUFFIXES:
                images[path] = info
            else:
                skipped.append((info.filename, "not a JPEG, PNG or DICOM file"))
        folder = _labelled_folder(list(images), archive)
        root = destination.resolve()
        for path, info in images.items():
            if path.parts[: len(folder.parts)] != folder.parts or path.parts[len(folder.parts)] not in CLASS_NAMES:
                skipped.append((info.filename, "outside the NORMAL/ and PNEUMONIA/ folders"))
                continue
            target = root.joinpath(*path.parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink)
            except (RuntimeError, NotImplementedError, zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
                target.unlink(missing_ok=True)
                skipped.append((info.filename, f"could not be unpacked ({error})"))
    return UnpackedArchive(root.joinpath(*folder.parts), skipped)
