"""How far LIME's top regions survive a change of random seed, so a reader knows how much to read into them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from model.dataset import CLASS_NAMES
from model.explain.lime import LimeExplanation, explain_with_lime
from model.inference import Classifier

# Reruns the page offers: enough to see whether regions recur, cheap enough to wait for.
STABILITY_RERUNS = 4


def jaccard(first: np.ndarray, second: np.ndarray) -> float:
    """Overlap of two sets of region numbers: shared over all (1.0 when both are empty)."""
    union = np.union1d(first, second)
    return float(len(np.intersect1d(first, second)) / len(union)) if len(union) else 1.0


@dataclass(frozen=True)
class Stability:
    """How far LIME's top regions for one class survive a change of random seed.

    overlaps[i] is the Jaccard overlap of the top `count` supporting regions
    of the explanation shown and of the rerun with seeds[i]; appearances[k]
    in how many of all the runs (the shown one included) region k is among them.
    """

    label: int
    count: int
    seeds: tuple[int, ...]
    overlaps: np.ndarray
    shown_regions: np.ndarray
    appearances: np.ndarray

    @property
    def median_overlap(self) -> float:
        return float(np.median(self.overlaps))

    @property
    def runs(self) -> int:
        return len(self.seeds) + 1

    def sentence(self) -> str:
        steady = int(np.sum(self.appearances[self.shown_regions] == self.runs))
        return (
            f"Rerun with {len(self.seeds)} other seeds, the top {self.count} regions for "
            f"{CLASS_NAMES[self.label]} overlap the ones shown by a median Jaccard of "
            f"{self.median_overlap:.2f} (1 = identical); {steady} of the {len(self.shown_regions)} shown are "
            f"among the top {self.count} in all {self.runs} runs."
        )


def stability(
    classifier: Classifier,
    model_input: np.ndarray,
    shown: LimeExplanation,
    label: int,
    count: int,
    other_seeds: int = STABILITY_RERUNS,
    progress: Callable[[float], None] | None = None,
) -> Stability:
    """Rerun LIME with the next `other_seeds` seeds and compare their top regions with the shown ones.

    Segmentation does not depend on the seed, so region numbers match across runs.
    """
    seeds = tuple(shown.settings.seed + offset for offset in range(1, other_seeds + 1))
    shown_regions = shown.supporting_regions(label, count)
    appearances = np.zeros(shown.region_count, dtype=np.int64)
    appearances[shown_regions] += 1
    overlaps = []
    for done, seed in enumerate(seeds):
        def step(fraction: float, done: int = done) -> None:
            if progress is not None:
                progress((done + fraction) / len(seeds))

        rerun = explain_with_lime(classifier, model_input, replace(shown.settings, seed=seed), step)
        regions = rerun.supporting_regions(label, count)
        appearances[regions] += 1
        overlaps.append(jaccard(shown_regions, regions))
    return Stability(label, count, seeds, np.asarray(overlaps), shown_regions, appearances)
