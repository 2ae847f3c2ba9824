"""Window/level for display: the grey values a file stores, mapped to the screen by a window the reader chooses.

Decoding maps a radiograph to 8 bits once, with the first usable DICOM VOI
mapping (or its full range), and that is what the network sees. A reader
wants to bring up the lung fields or the mediastinum instead, as their
viewer does: the values before that mapping are kept here, at viewer size,
with the file's own windows and VOI LUTs by name. Nothing here changes what
the network sees.

Windows follow DICOM PS3.3 C.11.2.1.2.1 (linear): centre C and width W in
the values after the modality LUT.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import pydicom
from pydicom.multival import MultiValue

FULL_RANGE = "Full range"
MANUAL = "Manual"
MIN_WIDTH = 1.0


@dataclass(frozen=True)
class Window:
    """A linear window: values below C - W/2 are black, above C + W/2 white (before any inversion)."""

    name: str
    center: float
    width: float

    def describe(self) -> str:
        return f"{self.name} (centre {self.center:g}, width {self.width:g})"


@dataclass(frozen=True, eq=False)
class VoiLut:
    """A DICOM VOI LUT: value x shows as table[x - first_mapped], clamped at both ends of the table."""

    name: str
    first_mapped: int
    table: np.ndarray

    def describe(self) -> str:
        return f"{self.name} (VOI LUT of {len(self.table)} entries)"


Preset = Window | VoiLut


@dataclass
class GreyLevels:
    """An X-ray's grey values before any window, and the windows the file itself offers, first the one decoded with.

    monochrome1: larger values are darker (DICOM MONOCHROME1); the display
    inverts them so bone is bright, as decoding does.
    """

    values: np.ndarray
    presets: tuple[Preset, ...]
    monochrome1: bool = False
    bits: int = 8

    @property
    def value_range(self) -> tuple[float, float]:
        return float(self.values.min()), float(self.values.max())

    def preset(self, name: str) -> Preset:
        """The preset of that name; the first (the one decoded with) when the file offers no such name."""
        return next((preset for preset in self.presets if preset.name == name), self.presets[0])

    def cropped(self, rows: slice, columns: slice) -> GreyLevels:
        return GreyLevels(np.ascontiguousarray(self.values[rows, columns]), self.presets, self.monochrome1, self.bits)

    def resized(self, height: int, width: int) -> GreyLevels:
        """At viewer size: area-averaged, as the 8-bit pixels are."""
        if self.values.shape == (height, width):
            return self
        small = cv2.resize(self.values.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
        return GreyLevels(small, self.presets, self.monochrome1, self.bits)


def full_range_window(values: np.ndarray) -> Window:
    """The window that spans every value, darkest to brightest: what an image without DICOM windows decodes to."""
    low, high = float(values.min()), float(values.max())
    return Window(FULL_RANGE, (low + high + 1) / 2, max(MIN_WIDTH, high - low + 1))


def apply_window(values: np.ndarray, preset: Preset) -> np.ndarray:
    """The values mapped to [0, 1] (float32) by a window or a VOI LUT."""
    if isinstance(preset, VoiLut):
        table = preset.table.astype(np.float32)
        index = np.clip(np.rint(values).astype(np.int64) - preset.first_mapped, 0, len(table) - 1)
        low, high = float(table.min()), float(table.max())
        return (table[index] - low) / (high - low) if high > low else np.zeros(values.shape, np.float32)
    width = max(MIN_WIDTH, preset.width)
    if width == MIN_WIDTH:  # DICOM: a width of 1 is a threshold at the centre
        return (values.astype(np.float32) >= preset.center - 0.5).astype(np.float32)
    shown = ((values.astype(np.float32) - (preset.center - 0.5)) / (width - 1) + 0.5)
    return np.clip(shown, 0.0, 1.0)


def render(grey: GreyLevels, preset: Preset, invert: bool = False) -> np.ndarray:
    """8-bit grey levels for the screen; `invert` turns black to white on top of MONOCHROME1's own inversion."""
    shown = apply_window(grey.values, preset)
    if grey.monochrome1 != invert:
        shown = 1.0 - shown
    return np.rint(shown * 255.0).astype(np.uint8)


def eight_bit_levels(pixels: np.ndarray) -> GreyLevels:
    """An 8-bit image's own values: full range is how it decodes; a reader can still window and invert it."""
    return GreyLevels(pixels, (Window(FULL_RANGE, 128.0, 256.0),))


def high_bit_depth_levels(values: np.ndarray, bits: int) -> GreyLevels:
    """A 16-bit PNG's or 12-bit JPEG's values, stretched over their own range when decoded."""
    return GreyLevels(values.astype(np.float32), (full_range_window(values),), bits=bits)


def voi_lut_key(index: int) -> str:
    """How decoding names the DICOM mapping it used, so the viewer opens on the same one."""
    return f"VOI LUT {index}"


def window_key(index: int) -> str:
    return f"window {index}"


def _lut_table(item: pydicom.Dataset) -> np.ndarray | None:
    """A VOI LUT's entries, or None when it has none or its descriptor is unusable."""
    try:
        entries, _first, bits = (int(value) for value in item.LUTDescriptor)
        data = item.LUTData
    except (AttributeError, TypeError, ValueError):
        return None
    if isinstance(data, bytes):
        table = np.frombuffer(data, dtype="<u2" if bits > 8 else np.uint8)
    else:
        table = np.atleast_1d(np.asarray(data if data is not None else [], dtype=np.float64))
    table = table[: entries or 65536]
    return table.astype(np.float32) if table.size else None


def as_list(value: object) -> list:
    """A DICOM element value that may be single- or multi-valued, as a list."""
    if value is None:
        return []
    return list(value) if isinstance(value, MultiValue | list | tuple) else [value]


def _text(value: object, index: int) -> str:
    values = as_list(value)
    return str(values[index]).strip() if index < len(values) and values[index] is not None else ""


def dicom_presets(dataset: pydicom.Dataset, values: np.ndarray, first_used: str | None) -> tuple[Preset, ...]:
    """The file's VOI LUTs and windows by their own names (LUT Explanation, Window Center & Width Explanation).

    Unusable ones (an empty LUT, a width that is not positive) are left out;
    the one decoding used (`first_used`, "VOI LUT 0" or "window 1") comes first, full range last.
    """
    presets: list[tuple[str, Preset]] = []
    for index, item in enumerate(dataset.get("VOILUTSequence") or []):
        table = _lut_table(item)
        if table is None:
            continue
        name = _text(item.get("LUTExplanation"), 0) or f"VOI LUT {index + 1}"
        presets.append((voi_lut_key(index), VoiLut(name, int(item.LUTDescriptor[1]), table)))
    centers, widths = dataset.get("WindowCenter"), dataset.get("WindowWidth")
    explanations = dataset.get("WindowCenterWidthExplanation")
    for index in range(len(as_list(widths))):
        try:
            center, width = float(_text(centers, index)), float(_text(widths, index))
        except ValueError:
            continue
        if not width > 0:
            continue
        name = _text(explanations, index) or f"Window {index + 1}"
        presets.append((window_key(index), Window(name, center, width)))
    ordered = sorted(presets, key=lambda entry: entry[0] != first_used)
    names, unique = {FULL_RANGE, MANUAL}, []
    for _, preset in ordered:  # two windows of one name would be one choice in the viewer
        name, copy = preset.name, 2
        while name in names:
            name, copy = f"{preset.name} ({copy})", copy + 1
        names.add(name)
        unique.append(replace(preset, name=name))
    return (*unique, full_range_window(values))
