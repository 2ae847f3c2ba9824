"""The trained classifier as the app and the CLIs use it: calibrated, thresholded, batched."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model.artifacts import DEFAULT_ARTIFACTS_DIR, MODEL_FILE, read_card
from model.calibration import calibrated_probability
from model.precision import AUTO, FLOAT32, MIXED_BFLOAT16, resolve_precision
from model.preprocessing import to_model_input

BATCH_SIZE = 128


def bfloat16_copy(network: keras.Model) -> keras.Model:
    """The same network and weights computing in bfloat16; its output layers stay float32.

    Only the forward pass changes: the weights are the float32 ones, cast on
    use, and the logit (the thresholded number) is accumulated in float32.
    """
    outputs = set(network.output_names)

    def with_policy(layer: keras.Layer) -> keras.Layer:
        config = layer.get_config()
        if layer.name not in outputs and not isinstance(layer, keras.layers.InputLayer):
            config["dtype"] = MIXED_BFLOAT16
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(network, clone_function=with_policy)
    copy.set_weights(network.get_weights())
    return copy


@dataclass
class Classifier:
    """A network that outputs logits, with the temperature and threshold fitted on calibration data.

    `network` is the float32 original (Grad-CAM differentiates it, the card's
    figures were computed with it); every probability, the page's, LIME's
    and the CLIs', comes from one predictor, run in `precision`.
    """

    network: keras.Model
    card: dict
    precision: str = FLOAT32

    def __post_init__(self) -> None:
        size = self.image_size
        spec = tf.TensorSpec((None, size, size, 1), tf.float32)
        predictor = bfloat16_copy(self.network) if self.precision == MIXED_BFLOAT16 else self.network
        self._forward = tf.function(lambda x: predictor(x, training=False), input_signature=[spec])

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

    def log_odds(self, inputs: np.ndarray) -> np.ndarray:
        """Calibrated log-odds of pneumonia (logit / T): the scale LIME fits and faithfulness follows."""
        return self.logits(inputs) / self.temperature

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of pneumonia."""
        return calibrated_probability(self.logits(inputs), self.temperature)

    def model_input(self, pixels: np.ndarray) -> np.ndarray:
        return to_model_input(pixels, self.image_size)

    def probability_of(self, pixels: np.ndarray) -> float:
        """Calibrated probability of pneumonia for one decoded grayscale image."""
        return float(self.probabilities(self.model_input(pixels)[np.newaxis])[0])


def class_log_odds(pneumonia_log_odds: np.ndarray, label: int) -> np.ndarray:
    """The log-odds of `label` (0 NORMAL, 1 PNEUMONIA) from those of pneumonia: NORMAL's are their negative."""
    return pneumonia_log_odds if label == 1 else -pneumonia_log_odds


def load_classifier(artifacts_dir: str | Path = DEFAULT_ARTIFACTS_DIR, precision: str = AUTO) -> Classifier:
    """The committed (or given) model, predicting in bfloat16 where this CPU has it (model.precision)."""
    artifacts_dir = Path(artifacts_dir)
    network = keras.saving.load_model(artifacts_dir / MODEL_FILE, compile=False)
    return Classifier(network, read_card(artifacts_dir), resolve_precision(precision))
