"""Training-time augmentation for chest X-rays.

Later X-rays differ from the training ones in framing (tighter collimation that
cuts off the abdomen, or a wider field with black borders), exposure, contrast
and image quality (blur, noise, resampling, JPEG re-compression). On the
calibration sample the normals the first model called PNEUMONIA were mostly
tightly framed films, so framing varies strongly here. Every change is applied
to both classes alike, so none of them can become a cue for pneumonia.
Rotations stay small and there are no flips: a chest film is never upside down
and left/right anatomy matters.
"""
from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from model.dataset import LoadedImages

GAMMA_LOG_RANGE = 0.4
# Zoom factors of keras.layers.RandomZoom: negative zooms in (a tighter crop), positive zooms out and
# leaves a black border. Height and width vary apart, as collimation does. The later normals the
# network called PNEUMONIA were framed from the clavicles to the diaphragm, about half the height
# of a training film: zooming in that far (-0.5, against -0.3 before) gave calibration-sample AUROC
# 0.975 and specificity 0.881 at sensitivity >= 97 %, against 0.968-0.971 and 0.831-0.847 in two
# runs with -0.3 (bench/results/recipes.txt).
ZOOM_HEIGHT = (-0.5, 0.3)
ZOOM_WIDTH = (-0.3, 0.3)
BORDER_PROBABILITY = 0.3
BORDER_MAX_FRACTION = 0.12
BLUR_PROBABILITY = 0.3
BLUR_SIGMA_PIXELS = 1.2
RESAMPLE_PROBABILITY = 0.25
RESAMPLE_SCALE = (0.5, 0.9)
JPEG_PROBABILITY = 0.3
JPEG_QUALITY = (25, 90)
NOISE_MAX_SIGMA = 0.03


def build_augmenter(seed: int) -> keras.Sequential:
    """Geometry, exposure and contrast, from Keras' preprocessing layers."""
    return keras.Sequential(
        [
            layers.RandomRotation(0.025, fill_mode="reflect", seed=seed),
            layers.RandomTranslation(0.1, 0.07, fill_mode="reflect", seed=seed + 1),
            layers.RandomZoom(ZOOM_HEIGHT, ZOOM_WIDTH, fill_mode="constant", fill_value=0.0, seed=seed + 2),
            layers.RandomBrightness(0.2, value_range=(0.0, 1.0), seed=seed + 3),
            layers.RandomContrast(0.4, value_range=(0.0, 1.0), seed=seed + 4),
        ],
        name="augmenter",
    )


def _uniform(seed: tf.Tensor, salt: int, shape, low: float = 0.0, high: float = 1.0) -> tf.Tensor:
    return tf.random.stateless_uniform(shape, seed=tf.stack([seed, salt]), minval=low, maxval=high)


def _chosen(seed: tf.Tensor, salt: int, batch: tf.Tensor, probability: float) -> tf.Tensor:
    """A per-image mask of shape (batch, 1, 1, 1) that is true with `probability`."""
    return _uniform(seed, salt, [batch, 1, 1, 1]) < probability


def random_gamma(unit_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Per-image gamma in exp(+-GAMMA_LOG_RANGE): the non-linear part of an exposure change."""
    batch = tf.shape(unit_images)[0]
    log_gamma = _uniform(seed, 0, [batch, 1, 1, 1], -GAMMA_LOG_RANGE, GAMMA_LOG_RANGE)
    return tf.pow(tf.clip_by_value(unit_images, 0.0, 1.0) + 1e-6, tf.exp(log_gamma))


def collimation_border(unit_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Black bands of random width on each side of some images, as a narrow collimator leaves."""
    shape = tf.shape(unit_images)
    batch, height, width = shape[0], shape[1], shape[2]
    sides = _uniform(seed, 1, [batch, 4], 0.0, BORDER_MAX_FRACTION)
    rows = tf.cast(tf.range(height), tf.float32)[tf.newaxis, :] / tf.cast(height, tf.float32)
    cols = tf.cast(tf.range(width), tf.float32)[tf.newaxis, :] / tf.cast(width, tf.float32)
    keep_rows = (rows >= sides[:, 0:1]) & (rows < 1.0 - sides[:, 1:2])
    keep_cols = (cols >= sides[:, 2:3]) & (cols < 1.0 - sides[:, 3:4])
    keep = tf.cast(keep_rows[:, :, tf.newaxis] & keep_cols[:, tf.newaxis, :], unit_images.dtype)[..., tf.newaxis]
    return tf.where(_chosen(seed, 2, batch, BORDER_PROBABILITY), unit_images * keep, unit_images)


def _gaussian_kernel(sigma: float) -> tf.Tensor:
    radius = int(3 * sigma + 0.5)
    x = tf.range(-radius, radius + 1, dtype=tf.float32)
    line = tf.exp(-0.5 * (x / sigma) ** 2)
    line /= tf.reduce_sum(line)
    return (line[:, tf.newaxis] * line[tf.newaxis, :])[:, :, tf.newaxis, tf.newaxis]


def random_blur(unit_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Blend some images with a blurred copy by a random amount (a softer detector or motion)."""
    kernel = _gaussian_kernel(BLUR_SIGMA_PIXELS)
    radius = (kernel.shape[0] - 1) // 2
    padded = tf.pad(unit_images, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="REFLECT")
    blurred = tf.nn.conv2d(padded, kernel, strides=1, padding="VALID")
    batch = tf.shape(unit_images)[0]
    amount = _uniform(seed, 3, [batch, 1, 1, 1]) * tf.cast(_chosen(seed, 4, batch, BLUR_PROBABILITY), tf.float32)
    return unit_images + amount * (blurred - unit_images)


def random_resampling(unit_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Shrink some images and enlarge them back: the detail lost by a smaller or rescaled original."""
    shape = tf.shape(unit_images)
    size = shape[1:3]
    scale = _uniform(seed, 5, [], *RESAMPLE_SCALE)
    small = tf.maximum(tf.cast(tf.cast(size, tf.float32) * scale, tf.int32), 8)
    resampled = tf.image.resize(tf.image.resize(unit_images, small, method="area"), size, method="bilinear")
    return tf.where(_chosen(seed, 6, shape[0], RESAMPLE_PROBABILITY), resampled, unit_images)


def random_jpeg(unit_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Re-compress some images as JPEG at a random quality (an export from another system)."""
    batch = tf.shape(unit_images)[0]
    seeds = tf.stack([tf.fill([batch], seed), 7 + tf.range(batch)], axis=1)

    def compress(item):
        image, image_seed = item
        return tf.image.stateless_random_jpeg_quality(image, *JPEG_QUALITY, seed=image_seed)

    compressed = tf.map_fn(compress, (tf.clip_by_value(unit_images, 0.0, 1.0), seeds), fn_output_signature=tf.float32)
    compressed = tf.reshape(compressed, shape=tf.shape(unit_images))
    return tf.where(_chosen(seed, 8, batch, JPEG_PROBABILITY), compressed, unit_images)


def random_noise(unit_images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Gaussian noise with a per-image level (quantum noise of a lower dose)."""
    batch = tf.shape(unit_images)[0]
    sigma = _uniform(seed, 9, [batch, 1, 1, 1], 0.0, NOISE_MAX_SIGMA)
    return unit_images + sigma * tf.random.stateless_normal(tf.shape(unit_images), seed=tf.stack([seed, 10]))


def augment_batch(unit_images: tf.Tensor, seed: tf.Tensor, augmenter: keras.Sequential) -> tf.Tensor:
    """Every augmentation on a batch of images in [0, 1]; `seed` makes the batch's draws reproducible."""
    unit = random_gamma(unit_images, seed)
    unit = tf.clip_by_value(augmenter(unit, training=True), 0.0, 1.0)
    unit = collimation_border(unit, seed)
    unit = random_blur(unit, seed)
    unit = random_resampling(unit, seed)
    unit = random_jpeg(unit, seed)
    return tf.clip_by_value(random_noise(unit, seed), 0.0, 1.0)


def augment_dataset(dataset: tf.data.Dataset, seed: int) -> tf.data.Dataset:
    """Augment batches of (images in [0, 255], labels[, weights])."""
    augmenter = build_augmenter(seed)
    counter = tf.data.Dataset.counter(start=seed)

    def apply(step, batch):
        unit = augment_batch(batch[0] / 255.0, tf.cast(step, tf.int32), augmenter)
        return (255.0 * unit,) + tuple(batch[1:])

    return tf.data.Dataset.zip(counter, dataset).map(apply, num_parallel_calls=tf.data.AUTOTUNE)


def training_dataset(loaded: LoadedImages, batch_size: int, seed: int) -> tf.data.Dataset:
    """The training images shuffled (seeded), batched and augmented on the fly."""
    dataset = tf.data.Dataset.from_tensor_slices((loaded.inputs, loaded.labels.astype(np.float32)))
    dataset = dataset.shuffle(len(loaded.labels), seed=seed, reshuffle_each_iteration=True).batch(batch_size)
    return augment_dataset(dataset, seed).prefetch(tf.data.AUTOTUNE)
