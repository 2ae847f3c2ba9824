"""The trained classifier as the app and the CLIs use it: calibrated, thresholded, batched."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from model.card import MODEL_FILE, ModelCard, read_card
from model.imaging.preprocess import to_model_input
from model.operating_point import OperatingPoint
from model.paths import DEFAULT_ARTIFACTS_DIR
from model.precision import AUTO, FLOAT32, MIXED_BFLOAT16, resolve_precision

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


def _batched(forward: Callable[[tf.Tensor], tf.Tensor], inputs: np.ndarray) -> np.ndarray:
    """One traced forward pass over a stack of preprocessed inputs (N x S x S [x 1]), BATCH_SIZE at a time."""
    inputs = np.asarray(inputs, dtype=np.float32)
    if inputs.ndim == 3:
        inputs = inputs[..., np.newaxis]
    outputs = [
        forward(tf.constant(inputs[start : start + BATCH_SIZE])).numpy().reshape(-1)
        for start in range(0, len(inputs), BATCH_SIZE)
    ]
    return np.concatenate(outputs) if outputs else np.zeros(0, np.float32)


@dataclass
class Classifier:
    """A network that outputs logits, with the temperature and threshold fitted on calibration data.

    Every call and probability (the page's, the triage table's, the CLIs')
    comes from `network` in float32, the arithmetic the temperature and
    threshold were fitted in: in bfloat16, 2 of the calibration sample's 98
    pneumonias sit close enough to the threshold to flip to NORMAL
    (sensitivity 0.990 -> 0.969). The explanations' thousands of passes
    (log_odds: LIME, faithfulness) run in `precision`, bfloat16 where the CPU
    has it, which moves a logit by at most 0.072 on the validation split.
    """

    network: keras.Model
    card: ModelCard
    precision: str = FLOAT32

    def __post_init__(self) -> None:
        size = self.image_size
        spec = tf.TensorSpec((None, size, size, 1), tf.float32)
        self._forward = tf.function(lambda x: self.network(x, training=False), input_signature=[spec])
        if self.precision == MIXED_BFLOAT16:
            explainer = bfloat16_copy(self.network)
            self._explanation_forward = tf.function(lambda x: explainer(x, training=False), input_signature=[spec])
        else:
            self._explanation_forward = self._forward

    @property
    def image_size(self) -> int:
        return self.card.image_size

    @property
    def point(self) -> OperatingPoint:
        return self.card.point

    @property
    def temperature(self) -> float:
        return self.card.point.temperature

    @property
    def threshold(self) -> float:
        return self.card.point.threshold

    @property
    def version(self) -> str:
        return self.card.version

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        """Pre-sigmoid scores in float32 for a stack of preprocessed inputs, in batches: what calls are made on."""
        return _batched(self._forward, inputs)

    def log_odds(self, inputs: np.ndarray) -> np.ndarray:
        """Calibrated log-odds of pneumonia (logit / T) in `precision`: the scale LIME fits and faithfulness follows."""
        return _batched(self._explanation_forward, inputs) / self.temperature

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of pneumonia."""
        return self.point.probabilities(self.logits(inputs))

    def model_input(self, pixels: np.ndarray) -> np.ndarray:
        return to_model_input(pixels, self.image_size)

    def probability_of(self, pixels: np.ndarray) -> float:
        """Calibrated probability of pneumonia for one decoded grayscale image."""
        return float(self.probabilities(self.model_input(pixels)[np.newaxis])[0])


def class_log_odds(pneumonia_log_odds: np.ndarray, label: int) -> np.ndarray:
    """The log-odds of `label` (0 NORMAL, 1 PNEUMONIA) from those of pneumonia: NORMAL's are their negative."""
    return pneumonia_log_odds if label == 1 else -pneumonia_log_odds


def load_classifier(artifacts_dir: str | Path = DEFAULT_ARTIFACTS_DIR, precision: str = AUTO) -> Classifier:
    """The committed (or given) model; its explanations run in bfloat16 where this CPU has it (model.precision)."""
    artifacts_dir = Path(artifacts_dir)
    network = keras.saving.load_model(artifacts_dir / MODEL_FILE, compile=False)
    return Classifier(network, read_card(artifacts_dir), resolve_precision(precision))
