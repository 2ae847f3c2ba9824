"""Turn a decoded X-ray into the network's input.

Training, evaluation, batch prediction and the app all go through
`decode_image` and `to_model_input`, so the network sees one distribution.
The input is squashed (aspect not kept) to a square because the training
images were squashed that way; CLAHE then evens out exposure and contrast,
which differ between X-ray machines and over time.
"""
from __future__ import annotations

import cv2
import numpy as np

CLAHE_CLIP_LIMIT = 2.0
CLAHE_TILES = (8, 8)
# The training images were all squashed to this square before the network saw
# them; uploads take the same route, so a full-resolution original and a copy
# of the training size reach the network through the same resampling.
SOURCE_SIZE = 224


def to_model_input(pixels: np.ndarray, image_size: int) -> np.ndarray:
    """Resize a grayscale X-ray to the network's square input and equalise its contrast.

    Resizing first and equalising second makes a full-resolution original and a
    small copy of it give nearly the same input.
    """
    square = cv2.resize(pixels, (SOURCE_SIZE, SOURCE_SIZE), interpolation=cv2.INTER_AREA)
    resized = cv2.resize(square, (image_size, image_size), interpolation=cv2.INTER_AREA)
    clahe = cv2.createCLAHE(clipLimit=CLAHE_CLIP_LIMIT, tileGridSize=CLAHE_TILES)
    return clahe.apply(resized).astype(np.float32)[..., np.newaxis]
