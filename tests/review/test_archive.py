"""Uploaded zips: usable archives are listed and read member by member, unsafe or unusable ones refused."""
from __future__ import annotations

import zipfile
from pathlib import PurePosixPath

import numpy as np
import pytest
from PIL import Image

from model.errors import ImageInputError
from model.imaging.decoded import MAX_FILE_BYTES
from review.archive import ArchiveError, evaluate_archive, open_labelled_zip
from tests.conftest import encode
from tests.inputs import gradient, make_zip

IMAGE = b"\xff\xd8\xff\xe0 not decoded here, only listed"


def test_top_level_class_folders_are_listed_in_folder_order() -> None:
    archive = open_labelled_zip(make_zip({"PNEUMONIA/b.png": IMAGE, "NORMAL/a.jpeg": IMAGE,
                                          "PNEUMONIA/deeper/c.jpg": IMAGE}), "set.zip")
    assert [str(p) for p in archive.files.paths] == ["NORMAL/a.jpeg", "PNEUMONIA/b.png", "PNEUMONIA/deeper/c.jpg"]
    assert archive.files.labels.tolist() == [0, 1, 1] and archive.skipped == []


def test_a_wrapping_folder_is_found_and_extras_are_listed() -> None:
    archive = open_labelled_zip(make_zip({
        "mine/NORMAL/a.jpeg": IMAGE,
        "mine/PNEUMONIA/b.jpeg": IMAGE,
        "mine/notes.txt": b"hello",
        "mine/loose.jpeg": IMAGE,
        "__MACOSX/mine/NORMAL/._a.jpeg": b"finder metadata",
        "mine/NORMAL/.DS_Store": b"finder metadata",
    }), "set.zip")
    assert dict(archive.skipped) == {
        "mine/notes.txt": "not a JPEG, PNG or DICOM file",
        "mine/loose.jpeg": "outside the NORMAL/ and PNEUMONIA/ folders",
    }
    assert [str(p) for p in archive.files.paths] == ["NORMAL/a.jpeg", "PNEUMONIA/b.jpeg"]


def test_bytes_that_are_not_a_zip_are_refused() -> None:
    with pytest.raises(ArchiveError, match="'photo.zip' is not a readable zip archive"):
        open_labelled_zip(IMAGE, "photo.zip")


@pytest.mark.parametrize("name", ["../escape.jpeg", "NORMAL/../../escape.jpeg", "/tmp/escape.jpeg", "C:\\escape.jpeg"])
def test_paths_leaving_the_archive_refuse_it(name: str) -> None:
    with pytest.raises(ArchiveError, match="unsafe path"):
        open_labelled_zip(make_zip({"NORMAL/a.jpeg": IMAGE, "PNEUMONIA/b.jpeg": IMAGE, name: IMAGE}), "evil.zip")


def test_an_archive_without_both_class_folders_is_refused() -> None:
    with pytest.raises(ArchiveError, match="no folder holding both NORMAL/ and PNEUMONIA/"):
        open_labelled_zip(make_zip({"NORMAL/a.jpeg": IMAGE, "other/b.jpeg": IMAGE}), "half.zip")


def test_two_labelled_folders_at_the_same_depth_are_refused() -> None:
    data = make_zip({f"{split}/{name}/x.jpeg": IMAGE for split in ("train", "test") for name in ("NORMAL", "PNEUMONIA")})
    with pytest.raises(ArchiveError, match=r"several labelled folders \(test, train\)"):
        open_labelled_zip(data, "both.zip")


def test_archives_that_unpack_too_large_are_refused_before_reading() -> None:
    data = make_zip({"NORMAL/a.jpeg": bytes(10_000), "PNEUMONIA/b.jpeg": bytes(10_000)})
    with pytest.raises(ArchiveError, match="would unpack to"):
        open_labelled_zip(data, "bomb.zip", max_bytes=15_000)
    with pytest.raises(ArchiveError, match="holds 2 files; at most 1"):
        open_labelled_zip(data, "many.zip", max_members=1)


def test_a_corrupt_member_fails_alone_when_it_is_read() -> None:
    data = bytearray(make_zip({"NORMAL/a.jpeg": IMAGE, "PNEUMONIA/b.jpeg": b"PNEUMONIA-PAYLOAD"}, zipfile.ZIP_STORED))
    at = data.index(b"PNEUMONIA-PAYLOAD")
    data[at] ^= 0xFF
    archive = open_labelled_zip(bytes(data), "damaged.zip")
    with pytest.raises(ImageInputError, match="'PNEUMONIA/b.jpeg' is damaged in the archive: its checksum"):
        archive.read(PurePosixPath("PNEUMONIA/b.jpeg"))


def test_a_member_far_larger_than_a_radiograph_is_refused_without_being_read() -> None:
    """A 1.6 MB zip holding hundreds of MB of zeros: refused from its declared size, at once, in no memory."""
    huge = bytes(MAX_FILE_BYTES + 1)
    archive = open_labelled_zip(make_zip({"NORMAL/zeros.dcm": huge, "PNEUMONIA/b.jpeg": IMAGE}), "zeros.zip")
    del huge
    with pytest.raises(ImageInputError, match="far more than any radiograph"):
        archive.read(PurePosixPath("NORMAL/zeros.dcm"))


def test_an_archive_is_scored_from_memory_with_its_members_named(classifier, val_images) -> None:
    members = {f"set/{'PNEUMONIA' if label else 'NORMAL'}/{path.name}": path.read_bytes()
               for path, label in val_images[6:10]}
    members["set/NORMAL/broken.png"] = b"not a png"
    report = evaluate_archive(classifier, open_labelled_zip(make_zip(members), "mine.zip"))
    assert report["name"] == "mine" and report["data"] == "uploaded mine.zip" and report["n"] == 4
    assert [row["file"] for row in report["skipped"]] == ["NORMAL/broken.png"]
    expected = [classifier.probability_of(decoded) for decoded in
                (np.asarray(Image.open(path).convert("L")) for path, _ in val_images[6:10])]
    by_file = {row["file"]: row["probability"] for row in report["scores"]}
    got = [by_file[f"{'PNEUMONIA' if label else 'NORMAL'}/{path.name}"] for path, label in val_images[6:10]]
    assert np.allclose(sorted(got), sorted(expected), atol=1e-4)


def test_a_password_protected_archive_says_so() -> None:
    """zipfile cannot write encrypted members; an encrypted entry is a plain one with the encryption flag set."""
    data = bytearray(make_zip({"NORMAL/a.png": encode(Image.fromarray(gradient()), "PNG"),
                               "PNEUMONIA/b.png": encode(Image.fromarray(gradient()), "PNG")}, zipfile.ZIP_STORED))
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            flags_at = start + (6 if signature == b"PK\x03\x04" else 8)
            data[flags_at] |= 0x1
            start += 4
    with pytest.raises(ArchiveError, match="'locked.zip' is password-protected"):
        open_labelled_zip(bytes(data), "locked.zip")
