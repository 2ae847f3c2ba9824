"""Folders on the server: only under XRAY_DATA_ROOTS, however the path is written, with one message outside them."""
from __future__ import annotations

import os

import pytest

from review.server_folders import DATA_ROOTS_ENV, OUTSIDE_ROOTS, allowed_folder, data_roots


@pytest.fixture
def layout(tmp_path):
    root, outside = tmp_path / "open", tmp_path / "closed"
    (root / "set" / "NORMAL").mkdir(parents=True)
    (outside / "secret").mkdir(parents=True)
    (root / "escape").symlink_to(outside)
    (root / "loop").symlink_to(root / "loop")
    return root.resolve(), outside.resolve()


def test_a_folder_under_a_root_is_given_as_its_real_path(layout):
    root, _ = layout
    assert allowed_folder(str(root / "set"), [root]) == root / "set"
    assert allowed_folder("set", [root]) == root / "set"
    assert allowed_folder(f"{root}/set/NORMAL/..", [root]) == root / "set"


@pytest.mark.parametrize("written", ["{outside}", "{outside}/secret", "{outside}/absent", "/etc", "/no/such",
                                     "escape", "escape/secret", "../closed", "{root}/../closed", "loop", "~root",
                                     "~no-such-user-here", "/etc\x00/passwd"])
def test_outside_the_roots_every_path_gets_the_same_words_whether_or_not_it_exists(layout, written):
    root, outside = layout
    text = written.format(root=root, outside=outside)
    with pytest.raises(PermissionError) as refused:
        allowed_folder(text, [root])
    assert str(refused.value) == OUTSIDE_ROOTS.format(text=text)


def test_a_missing_folder_inside_a_root_is_said_to_be_missing(layout):
    root, _ = layout
    with pytest.raises(FileNotFoundError, match="There is no folder 'absent'"):
        allowed_folder("absent", [root])


def test_no_roots_means_no_folders(monkeypatch, layout):
    monkeypatch.delenv(DATA_ROOTS_ENV, raising=False)
    assert data_roots() == []
    with pytest.raises(PermissionError, match=DATA_ROOTS_ENV):
        allowed_folder(str(layout[0] / "set"), data_roots())
    monkeypatch.setenv(DATA_ROOTS_ENV, f"{layout[1]}{os.pathsep}{os.pathsep}{layout[0]}/set/..")
    assert data_roots() == [layout[1], layout[0]]
