"""How far LIME and Grad-CAM point at the same part of the X-ray."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.explain.lime import LimeExplanation


@dataclass(frozen=True)
class Agreement:
    """How much of LIME's top-region area Grad-CAM also ranks highest.

    share: the fraction of the area of LIME's `regions` strongest supporting
    regions that lies in the equally large area of highest Grad-CAM; chance:
    what random placement would give (that area over the whole image).
    """

    share: float
    chance: float
    regions: int

    def sentence(self) -> str:
        if math.isnan(self.share):
            return "Not available: LIME or Grad-CAM found nothing in favour of this class."
        return (
            f"{self.share:.0%} of the area of LIME's top {self.regions} supporting regions lies in the equally "
            f"large area that Grad-CAM ranks highest (chance level {self.chance:.0%})."
        )


def agreement(explanation: LimeExplanation, cam: np.ndarray, label: int, count: int) -> Agreement:
    """LIME's top `count` regions for `label` against the equally large hottest area of `cam`."""
    lime_mask = explanation.mask(explanation.supporting_regions(label, count)).ravel()
    area = int(lime_mask.sum())
    if area == 0 or cam.max() <= 0:
        return Agreement(float("nan"), float("nan"), count)
    hottest = np.argsort(cam.ravel(), kind="stable")[-area:]
    return Agreement(float(lime_mask[hottest].mean()), area / lime_mask.size, count)
