"""Windowing and pooling of the serving signatures, against weights computed here from the clip length.

`make_signatures` is given a tiny stand-in model (a window's mean level decides its
probabilities) and a stand-in Transform output, at 8,000 samples/s with 3 s windows every 1.5 s,
so the expected window weights are a short calculation: each window weighs the fraction of it
that holds real audio (the rest is zero padding), and the clip's output is the weighted mean.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from contract import features
from models.keras_model.signatures import EMBEDDING_LAYER, make_signatures
from tests.helpers.serving_helpers import wav_bytes

RATE, WINDOW, HOP = 8000, 24000, 12000    # 3 s windows every 1.5 s, at the lowest rate predict_wav takes
LANGUAGES = ["a", "b", "c"]
KERNEL = [[4.0, -2.0, 0.0], [0.0, 60.0, -20.0]]   # the stand-in model: mean level and power -> logits


class _TransformOutput:
    """The raw waveform as contract/schema.pbtxt hands it to Transform: a RaggedTensor."""
    def raw_feature_spec(self):
        return {features.WAVEFORM: tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64)}

    def transform_features_layer(self):
        return lambda raw: {"x": tf.reshape(raw[features.WAVEFORM].to_tensor(), [-1, WINDOW])}


def _model():
    x = keras.Input((WINDOW,), name="x")
    level = keras.layers.Lambda(lambda t: tf.stack([tf.reduce_mean(t, 1), tf.reduce_mean(t * t, 1)], 1),
                                name=EMBEDDING_LAYER)(x)
    logits = keras.layers.Dense(3, kernel_initializer=keras.initializers.Constant(KERNEL),
                                bias_initializer="zeros")(level)
    return keras.Model(x, keras.layers.Softmax()(logits))


@pytest.fixture(scope="module")
def signatures():
    return make_signatures(_model(), _TransformOutput(), LANGUAGES, WINDOW, RATE)


def expected_weights(samples: int, count: int) -> np.ndarray:
    """Reference: window i covers [i*HOP, i*HOP + WINDOW); its weight is its real share."""
    starts = HOP * np.arange(count)
    return np.clip(samples - starts, 0, WINDOW) / WINDOW


def clip(seconds: float) -> np.ndarray:
    """A level that changes along the clip, so windows disagree and the weighting shows: a
    voiced-like harmonic tone at a syllable-rate envelope, which the signatures' speech
    detection counts as speech (audio/speech.py)."""
    t = np.arange(int(round(seconds * RATE))) / RATE
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    envelope = (0.2 + 0.6 * (t > 1.0)) * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))
    return (0.3 * envelope * voice).astype(np.float32)


@pytest.mark.parametrize("seconds, weights", [
    (2.0, [2 / 3]),                  # shorter than a window: one window, two thirds real
    (4.5, [1.0, 1.0]),               # exactly two windows
    (5.0, [1.0, 1.0, 2 / 3]),        # a third window with 2 s of audio in its 3 s
    (6.5, [1.0, 1.0, 1.0, 2 / 3]),
])
def test_predict_waveform_weights_windows_by_their_real_audio(signatures, seconds, weights):
    audio = clip(seconds)
    out = {k: v.numpy()[0] for k, v in signatures["predict_waveform"](waveform=tf.constant(audio[None])).items()}
    np.testing.assert_allclose(expected_weights(len(audio), len(weights)), weights)   # the reference itself
    np.testing.assert_allclose(out["window_weight"], weights, rtol=1e-6)
    np.testing.assert_allclose(out["window_start_s"], 1.5 * np.arange(len(weights)), atol=1e-6)
    np.testing.assert_allclose(out["window_end_s"][-1], seconds, atol=1e-6)
    # each window's probabilities are the model's on that window, zero-padded to 3 s
    padded = np.pad(audio, (0, (len(weights) - 1) * HOP + WINDOW - len(audio)))
    windows = np.stack([padded[i * HOP:i * HOP + WINDOW] for i in range(len(weights))])
    np.testing.assert_allclose(out["window_probabilities"], _model_reference(windows), atol=1e-5)
    pooled = (out["window_probabilities"] * np.array(weights)[:, None]).sum(0) / np.sum(weights)
    np.testing.assert_allclose(out["probabilities"], pooled, atol=1e-6)
    assert out["language"].decode() == LANGUAGES[int(np.argmax(pooled))]


def _model_reference(windows: np.ndarray) -> np.ndarray:
    """The stand-in model in NumPy."""
    level = np.stack([windows.mean(1), (windows**2).mean(1)], 1)
    logits = level @ np.array(KERNEL)
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_pooling_differs_from_an_unweighted_mean(signatures):
    """Control: on this clip the weighted and unweighted means are far apart, so the test above
    would see weights of 0/1 or a plain mean."""
    out = signatures["predict_waveform"](waveform=tf.constant(clip(5.0)[None]))
    per_window = out["window_probabilities"].numpy()[0]
    assert np.abs(per_window.mean(0) - out["probabilities"].numpy()[0]).max() > 1e-3


def test_predict_wav_weights_each_row_by_its_own_length(signatures):
    long, short = clip(5.0), clip(2.0)
    out = signatures["predict_wav"](audio=tf.constant([wav_bytes(long, RATE), wav_bytes(short, RATE)]))
    weights = out["window_weight"].numpy()
    np.testing.assert_allclose(weights[0], expected_weights(len(long), 3), atol=1e-6)
    np.testing.assert_allclose(weights[1], expected_weights(len(short), 3), atol=1e-6)   # [2/3, 0, 0]
    np.testing.assert_allclose(out["duration_s"].numpy(), [5.0, 2.0], atol=1e-6)
    probs = out["window_probabilities"].numpy()
    for row in range(2):
        pooled = (probs[row] * weights[row][:, None]).sum(0) / weights[row].sum()
        np.testing.assert_allclose(out["probabilities"].numpy()[row], pooled, atol=1e-4)


def test_embed_pools_embeddings_with_the_same_weights(signatures):
    audio = clip(5.0)
    out = {k: v.numpy()[0] for k, v in signatures["embed"](waveform=tf.constant(audio[None])).items()}
    weights = expected_weights(len(audio), 3)
    np.testing.assert_allclose(out["window_weight"], weights, rtol=1e-6)
    pooled = (out["window_embeddings"] * weights[:, None]).sum(0) / weights.sum()
    np.testing.assert_allclose(out["embedding"], pooled, rtol=1e-5, atol=1e-6)
