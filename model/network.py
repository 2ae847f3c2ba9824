"""The pneumonia CNN: small enough for LIME's ~1000 forward passes per explanation.

The network outputs one logit (the pre-sigmoid score) so Grad-CAM can use it
directly and temperature scaling can calibrate it; its last convolution is
named LAST_CONV_LAYER for Grad-CAM.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from tensorflow.python.framework.convert_to_constants import (
    convert_variables_to_constants_v2,
)

LAST_CONV_LAYER = "last_conv"
# What the predictor the app calls may cost per image: LIME runs it ~1000 times per explanation.
FLOPS_BUDGET = 0.7e9
STAGE_WIDTHS = (32, 64, 128, 192)
STEM_WIDTH = 24
# Faster-moving BatchNorm statistics: with the default 0.99 the inference-mode
# statistics lagged the weights and validation scores swung from epoch to epoch.
BN_MOMENTUM = 0.9


def stage_conv_name(stage: int) -> str:
    """The name of a stage's second (last) convolution; the last stage's is LAST_CONV_LAYER."""
    return LAST_CONV_LAYER if stage == len(STAGE_WIDTHS) - 1 else f"stage{stage}_b"


def activation_name(conv_name: str) -> str:
    """The name of the ReLU that follows a convolution: what the stage hands on."""
    return f"{conv_name}_relu"


def _conv_bn_relu(x, filters: int, name: str, weight_decay: float, strides: int = 1):
    x = layers.Conv2D(
        filters,
        3,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_regularizer=keras.regularizers.L2(weight_decay),
        name=name,
    )(x)
    x = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(x)
    return layers.ReLU(name=activation_name(name))(x)


def build_network(image_size: int, dropout: float = 0.4, weight_decay: float = 1e-4) -> keras.Model:
    """VGG-style stages of two 3x3 convolutions on one grayscale channel in [0, 255]."""
    inputs = keras.Input((image_size, image_size, 1), name="xray")
    x = layers.Rescaling(1.0 / 255.0, name="scale")(inputs)
    x = _conv_bn_relu(x, STEM_WIDTH, "stem", weight_decay, strides=2)
    last_stage = len(STAGE_WIDTHS) - 1
    for stage, width in enumerate(STAGE_WIDTHS):
        x = _conv_bn_relu(x, width, f"stage{stage}_a", weight_decay)
        x = _conv_bn_relu(x, width, stage_conv_name(stage), weight_decay)
        if stage < last_stage:
            x = layers.MaxPooling2D(name=f"stage{stage}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    # float32 even under a mixed-precision policy: the logit is ranked, thresholded and fed to the loss.
    logit = layers.Dense(1, dtype="float32", name="logit")(x)
    return keras.Model(inputs, logit, name="pneumonia_cnn")


def flops_per_image(network: keras.Model) -> int:
    """Float operations of one forward pass (a multiply-add is two), from TensorFlow's graph profiler."""
    _, height, width, channels = network.input_shape
    forward = tf.function(lambda x: network(x, training=False))
    concrete = forward.get_concrete_function(tf.TensorSpec([1, height, width, channels], tf.float32))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    profile = tf.compat.v1.profiler.profile(
        graph=convert_variables_to_constants_v2(concrete).graph,
        run_meta=tf.compat.v1.RunMetadata(),
        cmd="op",
        options=options,
    )
    return int(profile.total_float_ops)


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Weights that make both classes count equally in the loss."""
    counts = np.bincount(labels, minlength=2)
    return {k: float(labels.size / (2.0 * counts[k])) for k in range(2)}


def compile_network(
    network: keras.Model, learning_rate: float, total_steps: int, label_smoothing: float, ema_momentum: float
) -> None:
    """AdamW on a cosine schedule, keeping an exponential moving average of the weights (Polyak averaging)."""
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(1, total_steps), alpha=0.02)
    network.compile(
        optimizer=keras.optimizers.AdamW(
            learning_rate=schedule, weight_decay=1e-4, use_ema=True, ema_momentum=ema_momentum
        ),
        loss=keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing),
        metrics=[
            keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0),
            keras.metrics.AUC(name="auc", from_logits=True),
        ],
    )
