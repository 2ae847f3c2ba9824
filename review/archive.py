"""Read an uploaded zip of labelled X-rays member by member, refusing archives that are unsafe or unusable.

An upload comes from outside the machine. Nothing is extracted to disk: each
image is read into memory when it is scored, one at a time, through
model.imaging.inflate, which stops decompressing the moment a member passes
its declared size, a radiograph's (MAX_FILE_BYTES) or a plausible compression
ratio, so a small archive of enormous members costs nothing. Member
paths must be relative (no zip-slip names even though nothing is written),
the declared total is bounded, and the archive must hold one folder with
NORMAL/ and PNEUMONIA/ so its labels are unambiguous.
"""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from model.dataset import CLASS_NAMES, LabelledFiles
from model.errors import ImageInputError, InputError
from model.evaluate import score_files, scores_report
from model.imaging.decode import decode_image
from model.imaging.decoded import DecodedImage, check_file_bytes
from model.imaging.formats import FORMAT_NAMES, is_image_name
from model.imaging.inflate import read_member
from model.inference import Classifier

MAX_UNPACKED_BYTES = 1_000_000_000
MAX_MEMBERS = 20_000
METADATA_FOLDER = "__MACOSX"
ZIP_SUFFIX = re.compile(r"(?i)\.zip$")
ENCRYPTED_FLAG = 0x1  # general purpose bit 0 of a zip entry: the member is encrypted


class ArchiveError(InputError):
    """An uploaded archive that cannot be used; the message says why and what to upload instead."""


@dataclass
class LabelledArchive:
    """The labelled folder of an archive: its images (paths relative to the folder), read on demand.

    skipped lists the members left out and why; `read` decodes one image
    from `data`, the archive's bytes.
    """

    name: str
    files: LabelledFiles
    skipped: list[tuple[str, str]]
    members: dict[PurePosixPath, zipfile.ZipInfo]
    data: bytes

    def read(self, path: PurePosixPath) -> DecodedImage:
        """Decode one member; ImageInputError when it is encrypted, too large for an X-ray, damaged or no image."""
        info = self.members[path]
        if info.flag_bits & ENCRYPTED_FLAG:
            raise ImageInputError(f"'{info.filename}' is password-protected; zip it again without a password.")
        check_file_bytes(info.file_size, info.filename)
        return decode_image(read_member(self.data, info), info.filename)


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


def open_labelled_zip(
    data: bytes, archive: str = "The archive", max_bytes: int = MAX_UNPACKED_BYTES, max_members: int = MAX_MEMBERS
) -> LabelledArchive:
    """The labelled folder of a zip, listed from its directory without reading any member.

    Raises ArchiveError for an archive that must not or cannot be used;
    members that are not images or lie outside the class folders are listed
    in `skipped`.
    """
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
        raise ArchiveError(
            f"'{archive}' is not a readable zip archive; zip the labelled folder again.", str(error)
        ) from error
    paths = {info.filename: _member_path(info.filename, archive) for info in bundle.infolist()}
    members = [info for info in bundle.infolist() if not info.is_dir()]
    if len(members) > max_members:
        raise ArchiveError(f"'{archive}' holds {len(members)} files; at most {max_members} are accepted. Split it up.")
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
        if is_image_name(path):
            images[path] = info
        else:
            skipped.append((info.filename, f"not a {FORMAT_NAMES} file"))
    if images and all(info.flag_bits & ENCRYPTED_FLAG for info in images.values()):
        raise ArchiveError(f"'{archive}' is password-protected; zip the labelled folder again without a password.")
    folder = _labelled_folder(list(images), archive)
    labelled: list[tuple[int, PurePosixPath, zipfile.ZipInfo]] = []
    for path, info in images.items():
        inside = path.parts[: len(folder.parts)] == folder.parts
        if not inside or path.parts[len(folder.parts)] not in CLASS_NAMES:
            skipped.append((info.filename, "outside the NORMAL/ and PNEUMONIA/ folders"))
            continue
        relative = PurePosixPath(*path.parts[len(folder.parts) :])
        labelled.append((CLASS_NAMES.index(relative.parts[0]), relative, info))
    labelled.sort(key=lambda item: (item[0], str(item[1])))  # the order list_labelled_files gives a folder
    files = LabelledFiles([path for _, path, _ in labelled], np.asarray([label for label, _, _ in labelled], np.int64))
    return LabelledArchive(archive, files, skipped, {path: info for _, path, info in labelled}, data)


def set_name(archive: str) -> str:
    """The evaluation set an archive becomes: its name without .zip, kept whole (a name is no path, slashes and all)."""
    return ZIP_SUFFIX.sub("", archive) or "archive"


def evaluate_archive(
    classifier: Classifier, archive: LabelledArchive, progress: Callable[[int, int], None] | None = None
) -> dict:
    """Metrics and per-image scores of an uploaded archive's labelled folder, read member by member."""
    scores, skipped = score_files(classifier, archive.files, f"'{archive.name}'", progress, archive.read)
    skipped = [{"file": member, "reason": reason} for member, reason in archive.skipped] + skipped
    return scores_report(
        set_name(archive.name), f"uploaded {archive.name}", classifier.version, scores, classifier.threshold, skipped
    )
