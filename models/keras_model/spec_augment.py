"""SpecAugment-style masks on batches of training features (never in the serving graph).

Frequency masks hide a few neighbouring mel bands (or cepstral coefficients), so the model
cannot rely on one voice's formant positions; time masks hide short stretches, so it cannot
rely on one syllable. Applied in the Trainer's input pipeline to the train split only.
"""
from __future__ import annotations

import tensorflow as tf


def _masks(shape, axis: int, count: int, max_width: int) -> tf.Tensor:
    """A {0,1} float mask of `shape` ([batch, time, bands]) with `count` stripes along `axis`."""
    batch, size = shape[0], shape[axis]
    keep = tf.ones([batch, size])
    positions = tf.range(size)[None, :]
    for _ in range(count):
        width = tf.random.uniform([batch, 1], 0, max_width + 1, dtype=tf.int32)
        start = tf.cast(tf.random.uniform([batch, 1]) * tf.cast(size - width + 1, tf.float32), tf.int32)
        stripe = (positions >= start) & (positions < start + width)
        keep *= 1.0 - tf.cast(stripe, tf.float32)
    return keep[:, :, None] if axis == 1 else keep[:, None, :]


def spec_augment(features: dict, keys, freq_masks: int = 2, freq_width: int = 8,
                 time_masks: int = 2, time_width: int = 20) -> dict:
    """Mask each [batch, time, bands] feature in `keys`; masked cells become 0, the mean."""
    out = dict(features)
    with tf.name_scope("spec_augment"):   # named, so a test can prove serving graphs lack it
        for key in keys:
            x = features[key]
            shape = tf.shape(x)
            width = min(freq_width, max(1, x.shape[-1] // 8))   # at most an eighth of the bands
            out[key] = x * _masks(shape, 2, freq_masks, width) * _masks(shape, 1, time_masks, time_width)
    return out
