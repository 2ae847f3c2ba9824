"""Training-time augmentation for chest X-rays.

Later X-rays differ from the training ones in exposure, contrast and framing,
so intensity changes are strong, and zooming out leaves a black border as a
wider or scanned film does; rotations stay small because a chest film is never
upside down (no vertical flips) and left/right anatomy matters.
"""
from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

GAMMA_LOG_RANGE = 0.4


def build_augmenter(seed: int) -> keras.Sequential:
    return keras.Sequential(
        [
            layers.RandomRotation(0.025, fill_mode="reflect", seed=seed),
            layers.RandomTranslation(0.07, 0.07, fill_mode="reflect", seed=seed + 1),
            layers.RandomZoom((-0.2, 0.25), fill_mode="constant", fill_value=0.0, seed=seed + 2),
            layers.RandomBrightness(0.2, value_range=(0.0, 1.0), seed=seed + 3),
            layers.RandomContrast(0.4, value_range=(0.0, 1.0), seed=seed + 4),
            layers.GaussianNoise(0.015, seed=seed + 5),
        ],
        name="augmenter",
    )


def random_gamma(unit_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Per-image gamma in exp(+-GAMMA_LOG_RANGE): the non-linear part of an exposure change."""
    batch = tf.shape(unit_images)[0]
    log_gamma = tf.random.stateless_uniform(
        [batch, 1, 1, 1], seed=tf.stack([seed, 0]), minval=-GAMMA_LOG_RANGE, maxval=GAMMA_LOG_RANGE
    )
    return tf.pow(tf.clip_by_value(unit_images, 0.0, 1.0) + 1e-6, tf.exp(log_gamma))


def augment_dataset(dataset: tf.data.Dataset, seed: int) -> tf.data.Dataset:
    """Augment batches of (images in [0, 255], labels[, weights])."""
    augmenter = build_augmenter(seed)
    counter = tf.data.Dataset.counter(start=seed)

    def apply(step, batch):
        unit = random_gamma(batch[0] / 255.0, tf.cast(step, tf.int32))
        unit = tf.clip_by_value(augmenter(unit, training=True), 0.0, 1.0)
        return (255.0 * unit,) + tuple(batch[1:])

    return tf.data.Dataset.zip(counter, dataset).map(apply, num_parallel_calls=tf.data.AUTOTUNE)
