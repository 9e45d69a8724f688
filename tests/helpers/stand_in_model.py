"""A stand-in model for the serving signatures: a window's mean level and power decide its
probabilities, so a window's answer is a short NumPy calculation (`reference_probabilities`).

At 8,000 samples/s with 3 s windows every 1.5 s (the lowest rate predict_wav takes), with a
stand-in Transform output that hands the raw waveform through, as contract/schema.pbtxt's
RaggedTensor.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from contract import features
from models.keras_model.signatures import EMBEDDING_LAYER

RATE, WINDOW, HOP = 8000, 24000, 12000    # 3 s windows every 1.5 s, at the lowest rate predict_wav takes
LANGUAGES = ["a", "b", "c"]
KERNEL = [[4.0, -2.0, 0.0], [0.0, 60.0, -20.0]]   # mean level and power -> logits


class TransformOutput:
    """The raw waveform as contract/schema.pbtxt hands it to Transform: a RaggedTensor."""
    def raw_feature_spec(self):
        return {features.WAVEFORM: tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64)}

    def transform_features_layer(self):
        return lambda raw: {"x": tf.reshape(raw[features.WAVEFORM].to_tensor(), [-1, WINDOW])}


def model():
    x = keras.Input((WINDOW,), name="x")
    level = keras.layers.Lambda(lambda t: tf.stack([tf.reduce_mean(t, 1), tf.reduce_mean(t * t, 1)], 1),
                                name=EMBEDDING_LAYER)(x)
    logits = keras.layers.Dense(3, kernel_initializer=keras.initializers.Constant(KERNEL),
                                bias_initializer="zeros")(level)
    return keras.Model(x, keras.layers.Softmax()(logits))


def reference_probabilities(windows: np.ndarray) -> np.ndarray:
    """The stand-in model in NumPy."""
    level = np.stack([windows.mean(1), (windows**2).mean(1)], 1)
    logits = level @ np.array(KERNEL)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def clip(seconds: float) -> np.ndarray:
    """A level that changes along the clip, so windows disagree and the weighting shows: a
    voiced-like harmonic tone at a syllable-rate envelope, which the signatures' speech
    detection counts as speech (audio/speech.py)."""
    t = np.arange(int(round(seconds * RATE))) / RATE
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    envelope = (0.2 + 0.6 * (t > 1.0)) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))
    return (0.3 * envelope * voice).astype(np.float32)
