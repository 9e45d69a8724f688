"""Windowing and pooling of the serving signatures, against weights computed here from the clip length.

`make_signatures` is given tests/helpers/stand_in_model.py's stand-in model (a window's mean
level decides its probabilities) and Transform output, at 8,000 samples/s with 3 s windows every 1.5 s,
so the expected window weights are a short calculation: each window weighs the fraction of it
that holds real audio (the rest is zero padding), and the clip's output is the weighted mean.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from models.keras_model.signatures import make_signatures
from tests.helpers.serving_helpers import wav_bytes
from tests.helpers.stand_in_model import (
    HOP,
    LANGUAGES,
    RATE,
    WINDOW,
    TransformOutput,
    clip,
    model,
    reference_probabilities,
)


@pytest.fixture(scope="module")
def signatures():
    return make_signatures(model(), TransformOutput(), LANGUAGES, WINDOW, RATE)


def expected_weights(samples: int, count: int) -> np.ndarray:
    """Reference: window i covers [i*HOP, i*HOP + WINDOW); its weight is its real share."""
    starts = HOP * np.arange(count)
    return np.clip(samples - starts, 0, WINDOW) / WINDOW


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
    np.testing.assert_allclose(out["window_probabilities"], reference_probabilities(windows), atol=1e-5)
    pooled = (out["window_probabilities"] * np.array(weights)[:, None]).sum(0) / np.sum(weights)
    np.testing.assert_allclose(out["probabilities"], pooled, atol=1e-6)
    assert out["language"].decode() == LANGUAGES[int(np.argmax(pooled))]


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
