"""What every decoder returns, and the limits every decoder holds a file to before decoding its pixels."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.errors import ImageInputError
from model.imaging.window import GreyLevels, eight_bit_levels
from model.trust.metadata import DicomMetadata

MIN_SIDE = 64
MAX_PIXELS = 100_000_000
# No radiograph file is larger than its pixels at 16 bits, uncompressed (200 MB
# at the pixel limit): anything bigger is refused before it is parsed.
MAX_FILE_BYTES = 2 * MAX_PIXELS


@dataclass
class DecodedImage:
    """A grayscale X-ray at its source resolution, with what decoding had to do and what it saw on the way.

    colour_fraction is the share of strongly coloured pixels in the file as
    stored (0 for grayscale files and DICOMs), transparent_fraction the share
    of pixels that are not fully opaque (composited on black): the pixels keep
    neither, so the out-of-distribution check reads them here.
    """

    pixels: np.ndarray
    source_format: str
    notes: list[str] = field(default_factory=list)
    metadata: DicomMetadata | None = None  # a DICOM's header fields; JPEG and PNG carry none
    colour_fraction: float = 0.0
    transparent_fraction: float = 0.0
    grey: GreyLevels | None = None  # the values before the 8-bit mapping, where the file had more than 8 bits

    @property
    def grey_levels(self) -> GreyLevels:
        """What the viewer windows: the kept values, or the 8-bit pixels themselves."""
        return self.grey if self.grey is not None else eight_bit_levels(self.pixels)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pixels.shape[0], self.pixels.shape[1]


def file_label(name: str) -> str:
    """How messages name the file."""
    return f"'{name}'" if name else "The file"


def check_file_bytes(size: int, name: str) -> None:
    """Refuse a file (or an archive member, from its declared size) larger than any radiograph, unread."""
    if size > MAX_FILE_BYTES:
        raise ImageInputError(
            f"{file_label(name)} is {size / 1e6:,.0f} MB, far more than any radiograph "
            f"(at most {MAX_FILE_BYTES / 1e6:,.0f} MB); it was not read."
        )


def megapixels(pixels: int) -> str:
    """A pixel count in megapixels, exactly: 100,005,000 is '100.005', never rounded onto a limit it passes."""
    whole, millionths = divmod(pixels, 1_000_000)
    return f"{whole:,}.{millionths:06d}".rstrip("0").rstrip(".")


def check_size(width: int, height: int, name: str) -> None:
    """Refuse an image too large to decode safely or too small to judge, from the size its header declares."""
    if width * height > MAX_PIXELS:
        raise ImageInputError(
            f"{file_label(name)} is {width}x{height} pixels ({megapixels(width * height)} megapixels); "
            f"images over {megapixels(MAX_PIXELS)} megapixels are refused. Export a smaller copy."
        )
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(
            f"{file_label(name)} is only {width}x{height} pixels; at least {MIN_SIDE} pixels a side "
            "are needed to judge a chest X-ray."
        )


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Stretch a high-bit-depth image to 8 bits over its own range."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) * (255.0 / (high - low))).astype(np.uint8)
