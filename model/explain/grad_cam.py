"""Grad-CAM: where the network's last convolutional layer responds in favour of a class, on the model input."""
from __future__ import annotations

import functools
from collections.abc import Callable

import cv2
import keras
import numpy as np
import tensorflow as tf

from model.network import LAST_CONV_LAYER

CAM_EPSILON = 1e-8
# From bench/faithfulness.py and bench/sanity.py (bench/results/): LIME's order beat random on every image
# and its maps decorrelate once the network's weights are noise; Grad-CAM's did neither reliably.
GRAD_CAM_CAVEAT = (
    "Read Grad-CAM as a coarse picture, not as evidence: in this project's checks, blurring the pixels it ranks "
    "first changed the model's output no more than blurring random ones on about half the images, and a network "
    "with random weights gave maps partly like it. LIME's regions passed both checks."
)


@functools.lru_cache(maxsize=4)
def _grad_cam_function(network: keras.Model) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """A traced forward-and-backward pass, built once per network."""
    both = keras.Model(network.inputs, [network.get_layer(LAST_CONV_LAYER).output, network.output])
    size = network.input_shape[1]

    @tf.function(input_signature=[tf.TensorSpec((1, size, size, 1), tf.float32), tf.TensorSpec((), tf.float32)])
    def cam(inputs: tf.Tensor, sign: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            feature_maps, logit = both(inputs, training=False)
            score = sign * logit[:, 0]
        gradients = tape.gradient(score, feature_maps)
        channel_weights = tf.reduce_mean(gradients, axis=(1, 2))
        return tf.nn.relu(tf.einsum("bhwc,bc->bhw", feature_maps, channel_weights))[0]

    return cam


def grad_cam(network: keras.Model, model_input: np.ndarray, label: int = 1) -> np.ndarray:
    """Grad-CAM of `label` at the model input's resolution, scaled to [0, 1].

    It differentiates the pre-sigmoid logit (negated for NORMAL): the
    probability's gradient vanishes when the model is very sure.
    """
    inputs = tf.constant(np.asarray(model_input, dtype=np.float32)[np.newaxis])
    sign = tf.constant(1.0 if label == 1 else -1.0)
    cam = _grad_cam_function(network)(inputs, sign).numpy()
    side = model_input.shape[0]
    cam = cv2.resize(cam, (side, side), interpolation=cv2.INTER_LINEAR)
    return cam / (cam.max() + CAM_EPSILON)
