"""bench.serving's bare Whisper model (encoder + Keras call) and its ratios, with stand-ins for both."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from bench import serving
from contract import features


def test_ratios_are_to_the_bare_model_named():
    rows = {"keras call on features": (2.0, 3.0, 400.0), "encoder + keras call": (20.0, 25.0, 40.0),
            "predict_waveform": (22.0, 30.0, 32.0)}
    ratios = serving.print_rows(rows, "encoder + keras call", batch=32)
    assert ratios["encoder + keras call"] == (1.0, 1.0)
    assert ratios["predict_waveform"] == pytest.approx((1.1, 1.25))
    assert ratios["keras call on features"] == pytest.approx((0.1, 0.1))


def test_the_pooling_is_read_from_the_width_of_the_whisper_features():
    assert serving.whisper_pooling(1024) == "mean_std"
    assert serving.whisper_pooling(512) == "mean"
    with pytest.raises(ValueError, match="width 700"):
        serving.whisper_pooling(700)


def test_the_bare_model_feeds_the_encoder_outputs_to_the_keras_call(monkeypatch):
    """Pooled states -> whisper_xf, log-probabilities -> whisper_language_xf, another representation
    from the precomputed features, repeated for every clip of a batch."""
    from models.whisper import embedding

    class StandIn:
        def __init__(self, location, pooling):
            assert (location, pooling) == (None, "mean")

        def __call__(self, windows):
            return windows[:, :3] * 2.0, windows[:, 3:5] - 1.0

    seen = {}

    def model(inputs, training):
        seen.update(inputs)
        assert training is False
        return tf.concat([inputs[features.WHISPER_XF], inputs[features.WHISPER_LANGUAGE_XF],
                          tf.reshape(inputs["log_mel_xf"], [-1, 4])], axis=-1)

    monkeypatch.setattr(embedding, "WindowFeatures", StandIn)
    windows = np.arange(16, dtype=np.float32).reshape(2, 8)
    log_mel = tf.constant(np.arange(8, dtype=np.float32).reshape(2, 2, 2))
    call = serving.encoder_and_head(model, 8, "mean", {"log_mel_xf": log_mel})
    out = call(tf.constant(windows)).numpy()
    np.testing.assert_array_equal(out[:, :3], windows[:, :3] * 2)
    np.testing.assert_array_equal(out[:, 3:5], windows[:, 3:5] - 1)
    np.testing.assert_array_equal(out[:, 5:], log_mel.numpy().reshape(2, 4))
    batched = call(tf.constant(np.tile(windows, [3, 1]))).numpy()     # 3 clips of 2 windows
    np.testing.assert_array_equal(batched[:, 5:], np.tile(log_mel.numpy().reshape(2, 4), [3, 1]))


def test_the_clip_answer_is_calibrated_per_window_then_pooled_by_weight():
    windows = tf.constant([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    weights = np.array([1.0, 3.0])
    np.testing.assert_allclose(serving.served_probabilities(windows, weights, 1.0),
                               [0.25, 0.65, 0.1], atol=1e-6)
    sharpened = np.array([[0.49, 0.04, 0.01], [0.01, 0.64, 0.01]]) / np.array([[0.54], [0.66]])  # T = 0.5
    np.testing.assert_allclose(serving.served_probabilities(windows, weights, tf.constant(0.5)),
                               np.average(sharpened, axis=0, weights=weights), atol=1e-6)
