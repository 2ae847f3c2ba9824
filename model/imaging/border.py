"""Crop the wide uniform border of collimation or a scanning frame before anything sees the X-ray.

A row or column whose grey levels vary by less than BORDER_LINE_STD holds no
anatomy. Of the training X-rays 99.6% have no such border wider than
MIN_CROPPED_BORDER of a side (the widest, 15%), so the network learnt to judge
chests that fill the frame; a wider border is cropped. It is measured on a
copy at most BORDER_CHECK_SIDE pixels long, which bounds the memory and evens
out JPEG noise.
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from model.imaging.decoded import MIN_SIDE

BORDER_LINE_STD = 3.0
MIN_CROPPED_BORDER = 0.075
MAX_CROPPED_BORDER = 1 / 3
BORDER_CHECK_SIDE = 1024


def _uniform_run(line_stds: np.ndarray) -> int:
    """How many lines from the start are uniform; 0 when more than MAX_CROPPED_BORDER of them are.

    So much uniform image is no border around an X-ray but a blank or mostly
    empty picture, which the out-of-distribution checks name.
    """
    limit = int(len(line_stds) * MAX_CROPPED_BORDER)
    varied = np.flatnonzero(line_stds[:limit] > BORDER_LINE_STD)
    return int(varied[0]) if varied.size else 0


def uniform_border(pixels: np.ndarray) -> tuple[float, float, float, float]:
    """The uniform border's share of each side: top, bottom, left, right.

    Rows are measured first, columns then within the rows that remain, so a
    band across the top does not hide a band down the side.
    """
    height, width = pixels.shape
    scale = min(1.0, BORDER_CHECK_SIDE / max(height, width))
    small = cv2.resize(pixels, (max(1, round(width * scale)), max(1, round(height * scale))),
                       interpolation=cv2.INTER_AREA).astype(np.float32)
    row_stds = small.std(axis=1)
    top, bottom = _uniform_run(row_stds), _uniform_run(row_stds[::-1])
    inner = small[top : len(row_stds) - bottom] if top + bottom < len(row_stds) else small
    column_stds = inner.std(axis=0)
    left, right = _uniform_run(column_stds), _uniform_run(column_stds[::-1])
    rows, columns = small.shape
    return top / rows, bottom / rows, left / columns, right / columns


def _border_end(share: float, length: int, line: Callable[[int], np.ndarray]) -> int:
    """How many full-resolution lines a border of `share` (0: none to crop) takes from a side of `length`.

    The reduced copy blends the border's last line with the image, so the end
    goes on from its estimate while the original's lines stay uniform (a thin
    leftover edge shifted the call).
    """
    if not share:
        return 0
    end, limit = round(share * length), int(length * MAX_CROPPED_BORDER)
    while end < limit and float(line(end).std()) <= BORDER_LINE_STD:
        end += 1
    return end


def wide_border(pixels: np.ndarray) -> tuple[slice, slice, str] | None:
    """The rows and columns inside borders wider than MIN_CROPPED_BORDER, and a note saying what was cut; None if none."""
    shares = uniform_border(pixels)
    cut = [share if share > MIN_CROPPED_BORDER else 0.0 for share in shares]
    if not any(cut):
        return None
    height, width = pixels.shape
    top = _border_end(cut[0], height, lambda i: pixels[i])
    bottom = _border_end(cut[1], height, lambda i: pixels[height - 1 - i])
    rows = pixels[top : height - bottom]
    left = _border_end(cut[2], width, lambda i: rows[:, i])
    right = _border_end(cut[3], width, lambda i: rows[:, width - 1 - i])
    if min(height - top - bottom, width - left - right) < MIN_SIDE:
        return None
    sides = ", ".join(f"{side} {share:.0%}" for side, share in zip(("top", "bottom", "left", "right"), cut) if share)
    note = (f"A uniform border ({sides} of the image) was cropped: the model and its explanations see the X-ray "
            "without it.")
    return slice(top, height - bottom), slice(left, width - right), note

