"""Choose the training epoch on later X-rays, not on the validation split.

The validation split is carved from the training folder and separates almost
perfectly from the first epochs on, so it cannot tell a network that will
hold up on later X-rays from one that will not. A labelled sample of later
X-rays can: after every epoch it is scored (never trained on) and the weights
with the best AUROC on it are kept. Without such a sample the validation
AUROC is used.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
from sklearn.metrics import roc_auc_score

from model.calibration import choose_threshold
from model.dataset import LoadedImages
from model.operating_point import calls_at

SCORING_BATCH = 128


def network_logits(network: keras.Model, inputs: np.ndarray) -> np.ndarray:
    """Logits of a network under training, in batches (the Classifier wraps the finished one)."""
    parts = [
        np.asarray(network(inputs[start : start + SCORING_BATCH], training=False)).reshape(-1)
        for start in range(0, len(inputs), SCORING_BATCH)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def specificity_at(logits: np.ndarray, labels: np.ndarray, target_sensitivity: float) -> float:
    """Specificity at the best threshold that keeps sensitivity >= the target, in-sample."""
    threshold = choose_threshold(logits, labels, target_sensitivity)
    return float(np.mean(calls_at(logits[labels == 0], threshold) == 0))


@dataclass
class EpochScores:
    """Per-epoch AUROC and specificity at the target sensitivity on the selection set."""

    auroc: list[float] = field(default_factory=list)
    specificity: list[float] = field(default_factory=list)


class EpochSelection(keras.callbacks.Callback):
    """Keeps the weights of the epoch with the best selection AUROC; stops after `patience` epochs without one.

    Placed after keras.callbacks.SwapEMAWeights(swap_on_epoch=True), it scores
    the averaged (EMA) weights, which are the ones kept. They are scored in
    `scoring_network`, a float32 network of the same architecture, so a model
    trained in bfloat16 is chosen by the scores the shipped float32 model gives.
    """

    def __init__(
        self, selection: LoadedImages, target_sensitivity: float, patience: int, scoring_network: keras.Model
    ) -> None:
        super().__init__()
        self.selection = selection
        self.scoring_network = scoring_network
        self.target_sensitivity = target_sensitivity
        self.patience = patience
        self.scores = EpochScores()
        self.best_epoch = -1
        self.best_weights: list[np.ndarray] | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        weights = self.model.get_weights()
        self.scoring_network.set_weights(weights)
        logits = network_logits(self.scoring_network, self.selection.inputs)
        labels = self.selection.labels
        self.scores.auroc.append(float(roc_auc_score(labels, logits)))
        self.scores.specificity.append(specificity_at(logits, labels, self.target_sensitivity))
        print(
            f"  selection set: AUROC {self.scores.auroc[-1]:.4f}, specificity at sensitivity >= "
            f"{self.target_sensitivity:.0%} {self.scores.specificity[-1]:.3f}",
            flush=True,
        )
        if self.best_weights is None or self.scores.auroc[-1] >= self.scores.auroc[self.best_epoch]:
            self.best_epoch = epoch
            self.best_weights = weights
        elif epoch - self.best_epoch >= self.patience:
            self.model.stop_training = True
