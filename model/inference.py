"""The trained classifier as the app and the CLIs use it: calibrated, thresholded, batched."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model.artifacts import DEFAULT_ARTIFACTS_DIR, MODEL_FILE, read_card
from model.calibration import calibrated_probability
from model.preprocessing import to_model_input

BATCH_SIZE = 128


@dataclass
class Classifier:
    """A network that outputs logits, with the temperature and threshold fitted on validation."""

    network: keras.Model
    card: dict

    def __post_init__(self) -> None:
        size = self.image_size
        spec = tf.TensorSpec((None, size, size, 1), tf.float32)
        self._forward = tf.function(lambda x: self.network(x, training=False), input_signature=[spec])

    @property
    def image_size(self) -> int:
        return int(self.card["image_size"])

    @property
    def temperature(self) -> float:
        return float(self.card["temperature"])

    @property
    def threshold(self) -> float:
        return float(self.card["threshold"])

    @property
    def version(self) -> str:
        return str(self.card["version"])

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        """Pre-sigmoid scores for a stack of preprocessed inputs, in batches."""
        inputs = np.asarray(inputs, dtype=np.float32)
        if inputs.ndim == 3:
            inputs = inputs[..., np.newaxis]
        outputs = [
            self._forward(tf.constant(inputs[start : start + BATCH_SIZE])).numpy().reshape(-1)
            for start in range(0, len(inputs), BATCH_SIZE)
        ]
        return np.concatenate(outputs) if outputs else np.zeros(0, np.float32)

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of pneumonia."""
        return calibrated_probability(self.logits(inputs), self.temperature)

    def model_input(self, pixels: np.ndarray) -> np.ndarray:
        return to_model_input(pixels, self.image_size)

    def probability_of(self, pixels: np.ndarray) -> float:
        """Calibrated probability of pneumonia for one decoded grayscale image."""
        return float(self.probabilities(self.model_input(pixels)[np.newaxis])[0])


def load_classifier(artifacts_dir: str | Path = DEFAULT_ARTIFACTS_DIR) -> Classifier:
    artifacts_dir = Path(artifacts_dir)
    network = keras.saving.load_model(artifacts_dir / MODEL_FILE, compile=False)
    return Classifier(network, read_card(artifacts_dir))
