"""Which folders on the server an admin may have scored: only those under the roots the site configures.

A visitor's path is resolved (`..`, symlinks) before it is compared with the roots, and a path outside
them gets one message whether or not it exists, so the page cannot be used to learn what is on the disk.
"""
from __future__ import annotations

import os
from pathlib import Path

DATA_ROOTS_ENV = "XRAY_DATA_ROOTS"

OUTSIDE_ROOTS = "'{text}' is not a folder this server scores. Ask your administrator which folders are open."


def data_roots() -> list[Path]:
    """XRAY_DATA_ROOTS, colon-separated, as resolved real paths; none when unset, so nothing is open by default."""
    entries = os.environ.get(DATA_ROOTS_ENV, "").split(os.pathsep)
    return [Path(entry).expanduser().resolve() for entry in entries if entry.strip()]


def allowed_folder(text: str, roots: list[Path]) -> Path:
    """The real path of the folder `text` names, if it is a folder under one of `roots`.

    A relative path is read from the first root. Raises PermissionError with the same words for a
    path outside the roots whether it exists or not, and FileNotFoundError only for a missing
    folder inside them.
    """
    if not roots:
        raise PermissionError(f"No folders on this server are open for scoring; set {DATA_ROOTS_ENV} to open some.")
    try:
        path = Path(text).expanduser()
        resolved = (path if path.is_absolute() else roots[0] / path).resolve()
    except (OSError, RuntimeError, ValueError):  # a symlink loop, ~nobody, a NUL byte: not a folder we score
        raise PermissionError(OUTSIDE_ROOTS.format(text=text)) from None
    if not any(resolved.is_relative_to(root) for root in roots):
        raise PermissionError(OUTSIDE_ROOTS.format(text=text))
    if not resolved.is_dir():
        raise FileNotFoundError(f"There is no folder '{text}' under the folders open for scoring.")
    return resolved
