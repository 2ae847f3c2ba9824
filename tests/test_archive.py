"""Unpacking uploaded zips: usable archives are unpacked, unsafe or unusable ones refused with a reason."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from model.archive import ArchiveError, unpack_labelled_zip
from model.dataset import list_labelled_files
from tests.inputs import make_zip

IMAGE = b"\xff\xd8\xff\xe0 not decoded here, only unpacked"


def test_top_level_class_folders_are_unpacked(tmp_path: Path) -> None:
    data = make_zip({"NORMAL/a.jpeg": IMAGE, "PNEUMONIA/b.png": IMAGE, "PNEUMONIA/deeper/c.jpg": IMAGE})
    unpacked = unpack_labelled_zip(data, tmp_path, "set.zip")
    assert unpacked.folder == tmp_path.resolve()
    assert unpacked.skipped == []
    files = list_labelled_files(unpacked.folder)
    assert [p.name for p in files.paths] == ["a.jpeg", "b.png", "c.jpg"]
    assert files.labels.tolist() == [0, 1, 1]
    assert (unpacked.folder / "NORMAL" / "a.jpeg").read_bytes() == IMAGE


def test_a_wrapping_folder_is_found_and_extras_are_listed(tmp_path: Path) -> None:
    data = make_zip({
        "mine/NORMAL/a.jpeg": IMAGE,
        "mine/PNEUMONIA/b.jpeg": IMAGE,
        "mine/notes.txt": b"hello",
        "mine/loose.jpeg": IMAGE,
        "__MACOSX/mine/NORMAL/._a.jpeg": b"finder metadata",
        "mine/NORMAL/.DS_Store": b"finder metadata",
    })
    unpacked = unpack_labelled_zip(data, tmp_path, "set.zip")
    assert unpacked.folder == tmp_path.resolve() / "mine"
    assert dict(unpacked.skipped) == {
        "mine/notes.txt": "not a JPEG, PNG or DICOM file",
        "mine/loose.jpeg": "outside the NORMAL/ and PNEUMONIA/ folders",
    }
    assert not (tmp_path / "__MACOSX").exists()
    assert len(list_labelled_files(unpacked.folder)) == 2


def test_bytes_that_are_not_a_zip_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="'photo.zip' is not a readable zip archive"):
        unpack_labelled_zip(IMAGE, tmp_path, "photo.zip")


@pytest.mark.parametrize("name", ["../escape.jpeg", "NORMAL/../../escape.jpeg", "/tmp/escape.jpeg", "C:\\escape.jpeg"])
def test_paths_leaving_the_destination_refuse_the_archive(tmp_path: Path, name: str) -> None:
    destination = tmp_path / "unpack"
    destination.mkdir()
    data = make_zip({"NORMAL/a.jpeg": IMAGE, "PNEUMONIA/b.jpeg": IMAGE, name: IMAGE})
    with pytest.raises(ArchiveError, match="unsafe path"):
        unpack_labelled_zip(data, destination, "evil.zip")
    assert list(destination.iterdir()) == []
    assert not (tmp_path / "escape.jpeg").exists()


def test_an_archive_without_both_class_folders_is_refused(tmp_path: Path) -> None:
    data = make_zip({"NORMAL/a.jpeg": IMAGE, "other/b.jpeg": IMAGE})
    with pytest.raises(ArchiveError, match="no folder holding both NORMAL/ and PNEUMONIA/"):
        unpack_labelled_zip(data, tmp_path, "half.zip")


def test_two_labelled_folders_at_the_same_depth_are_refused(tmp_path: Path) -> None:
    data = make_zip({f"{split}/{name}/x.jpeg": IMAGE for split in ("train", "test") for name in ("NORMAL", "PNEUMONIA")})
    with pytest.raises(ArchiveError, match=r"several labelled folders \(test, train\)"):
        unpack_labelled_zip(data, tmp_path, "both.zip")


def test_archives_that_unpack_too_large_are_refused_before_writing(tmp_path: Path) -> None:
    data = make_zip({"NORMAL/a.jpeg": bytes(10_000), "PNEUMONIA/b.jpeg": bytes(10_000)})
    with pytest.raises(ArchiveError, match="would unpack to"):
        unpack_labelled_zip(data, tmp_path, "bomb.zip", max_bytes=15_000)
    with pytest.raises(ArchiveError, match="holds 2 files; at most 1"):
        unpack_labelled_zip(data, tmp_path, "many.zip", max_members=1)
    assert list(tmp_path.iterdir()) == []


def test_a_corrupt_member_is_skipped_and_the_rest_unpacked(tmp_path: Path) -> None:
    data = bytearray(make_zip({"NORMAL/a.jpeg": IMAGE, "PNEUMONIA/b.jpeg": b"PNEUMONIA-PAYLOAD"}, zipfile.ZIP_STORED))
    at = data.index(b"PNEUMONIA-PAYLOAD")
    data[at] ^= 0xFF
    unpacked = unpack_labelled_zip(bytes(data), tmp_path, "damaged.zip")
    assert [member for member, _ in unpacked.skipped] == ["PNEUMONIA/b.jpeg"]
    assert "could not be unpacked" in unpacked.skipped[0][1]
    assert not (unpacked.folder / "PNEUMONIA" / "b.jpeg").exists()
    assert (unpacked.folder / "NORMAL" / "a.jpeg").read_bytes() == IMAGE
