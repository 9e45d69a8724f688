"""Short clips in training: crop transformed windows to a random length and pad them the way
serving pads a short clip, so that 1 s and 2 s of speech look in training as they do at
serving time.

Serving zero-pads a short clip to a full window; after the transform, every padded frame is
the "silence frame" of each representation (the per-band z-score of an inaudible frame: a
constant vector, computed once by transforming zeros). Each log-domain representation is
also centred on the utterance's audible frames, so cropping a window changes that mean; the
crop is re-centred exactly in feature space: for audible frames t' = t - (mean of the
crop's audible frames - silence frame), because the full window's audible mean maps to the
silence frame. Frames straddling the crop edge and MFCC deltas are approximated (the crop
is on 10 ms frame boundaries), as is the raw waveform representation (zeroed, not
re-scaled).
"""
from __future__ import annotations

import tensorflow as tf

from contract import features
from models.preprocessing import raw_waveform

# Transform's outputs (the Trainer's inputs) that carry a per-utterance mean removal.
_CENTRED = tuple(features.transformed_name(name) for name in (features.LOG_MEL, features.MFCC,
                                                               features.POWER_SPECTROGRAM))


def silence_frames(tft_layer, segment_samples: int, names, waveform_spec=None) -> dict:
    """{representation: the transformed value of one all-zero frame} ([bands], or a scalar for waveform).
    `waveform_spec`: the Transform graph's raw spec of the waveform (models.preprocessing.raw_waveform)."""
    zeros = tf.zeros([1, segment_samples], tf.float32)
    out = tft_layer({features.WAVEFORM: raw_waveform(zeros, waveform_spec)})
    return {name: (out[name][0, 0] if len(out[name].shape) == 3 else tf.constant(0.0)) for name in names}


def crop_example(x: dict, keep_fraction: tf.Tensor, silence: dict, tolerance: float = 1e-4) -> dict:
    """One example's features {name: [frames, bands] or [samples]} cropped to the first
    `keep_fraction` of the window and padded with silence frames, re-centred where centred."""
    out = {}
    for name, value in x.items():
        length = tf.shape(value)[0]
        keep = tf.maximum(1, tf.cast(tf.math.ceil(keep_fraction * tf.cast(length, tf.float32)), tf.int32))
        inside = tf.range(length) < keep
        if len(value.shape) == 1:                                   # waveform: zero the rest
            out[name] = tf.where(inside, value, tf.zeros_like(value))
            continue
        pad = tf.broadcast_to(silence[name], tf.shape(value))
        if name in _CENTRED:
            audible = tf.logical_and(inside, tf.reduce_any(tf.abs(value - silence[name]) > tolerance, axis=1))
            weight = tf.cast(audible, value.dtype)[:, None]
            mean = tf.reduce_sum(value * weight, axis=0) / tf.maximum(tf.reduce_sum(weight), 1.0)
            value = tf.where(audible[:, None], value - (mean - silence[name]), pad)
        out[name] = tf.where(inside[:, None], value, pad)
    return out


def random_crops(batch: dict, silence: dict, probability: float, min_fraction: float, seed=None) -> dict:
    """Crop each example of a batch with `probability` to a uniform fraction in [min_fraction, 1]."""
    size = tf.shape(next(iter(batch.values())))[0]
    draws = tf.random.uniform([size, 2], seed=seed)
    fractions = tf.where(draws[:, 0] < probability, min_fraction + (1.0 - min_fraction) * draws[:, 1], 1.0)

    def one(args):
        example, fraction = args
        return tf.cond(fraction < 1.0, lambda: crop_example(example, fraction, silence), lambda: example)

    return tf.map_fn(one, (batch, fractions), fn_output_signature={k: tf.TensorSpec(v.shape[1:], v.dtype)
                                                                  for k, v in batch.items()})
