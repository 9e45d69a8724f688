"""What the open-set rule of a Whisper model reads at serving time: `embed` returns Whisper's
pooled encoder features (`whisper_embedding`, pooled like `embedding`), the waveform signatures
do not, and the CLI's stream pooling gives the same vector for a recording cut into calls.

A stand-in Whisper model (models/keras_model/signatures.py only sees the transformed features):
its "encoder features" are a window's mean level and power, its "language log-probabilities"
a fixed function of them.
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from contract import features
from models.keras_model.signatures import EMBEDDING_LAYER, make_signatures
from tests.helpers.stand_in_model import RATE, WINDOW, clip

LANGUAGES = ["English", "French", "German"]     # Whisper knows them: the Trainer fits its rule


def _window_features(x):
    return tf.stack([tf.reduce_mean(x, 1), tf.reduce_mean(x * x, 1), tf.reduce_max(x, 1)], 1)


class TransformOutput:
    def raw_feature_spec(self):
        return {features.WAVEFORM: tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64)}

    def transform_features_layer(self):
        def layer(raw):
            x = tf.reshape(raw[features.WAVEFORM].to_tensor(), [-1, WINDOW])
            pooled = _window_features(x)
            logits = tf.matmul(pooled, tf.ones([3, 99]) * tf.range(99, dtype=tf.float32)[None, :] / 99.0)
            return {features.WHISPER_XF: pooled, features.WHISPER_LANGUAGE_XF: tf.nn.log_softmax(logits)}
        return layer


def _model():
    f = keras.Input((3,), name=features.WHISPER_XF)
    lp = keras.Input((99,), name=features.WHISPER_LANGUAGE_XF)
    h = keras.layers.Dense(2, name=EMBEDDING_LAYER)(f)
    logits = keras.layers.Add()([keras.layers.Dense(3)(h), keras.layers.Dense(3)(lp)])
    return keras.Model({features.WHISPER_XF: f, features.WHISPER_LANGUAGE_XF: lp}, keras.layers.Softmax()(logits))


@pytest.fixture(scope="module")
def signatures():
    tf.keras.utils.set_random_seed(0)
    return make_signatures(_model(), TransformOutput(), LANGUAGES, WINDOW, RATE)


def test_embed_returns_whispers_pooled_encoder_features_and_predict_does_not(signatures):
    audio = clip(5.0)
    out = {k: v.numpy()[0] for k, v in signatures["embed"](waveform=tf.constant(audio[None])).items()}
    n = len(out["window_weight"])
    padded = np.pad(audio, (0, (n - 1) * WINDOW // 2 + WINDOW - len(audio)))
    windows = np.stack([padded[i * WINDOW // 2:i * WINDOW // 2 + WINDOW] for i in range(n)])
    per_window = _window_features(tf.constant(windows)).numpy()
    np.testing.assert_allclose(out["window_whisper_embeddings"], per_window, rtol=1e-5, atol=1e-7)
    weights = out["window_weight"] * out["window_speech"]
    np.testing.assert_allclose(out["whisper_embedding"], (per_window * weights[:, None]).sum(0) / weights.sum(),
                               rtol=1e-5, atol=1e-7)
    predicted = signatures["predict_waveform"](waveform=tf.constant(audio[None]))
    assert "whisper_language_probabilities" in predicted
    assert "whisper_embedding" not in predicted and "window_whisper_embeddings" not in predicted


def test_the_cli_pools_calls_into_the_same_whisper_embedding(signatures):
    from serving.windows import WHISPER_EMBEDDING, WHISPER_POOLED, analyse_stream, probe_geometry

    class Backend:
        def analyse(self, waveform, sample_rate, embeddings=False):
            name = "embed" if embeddings else "predict_waveform"
            out = signatures[name](waveform=tf.constant(np.asarray(waveform, np.float32)[None]))
            return {k: v.numpy()[0] for k, v in out.items()}

    audio = clip(9.0)
    geometry = probe_geometry(Backend(), RATE)
    whole = signatures["embed"](waveform=tf.constant(audio[None]))
    blocks = [audio[i:i + RATE] for i in range(0, len(audio), RATE)]
    result = analyse_stream(Backend(), blocks, geometry, windows_per_call=2, embeddings=True)
    np.testing.assert_allclose(result[WHISPER_EMBEDDING], whole["whisper_embedding"].numpy()[0], rtol=1e-4)
    np.testing.assert_allclose(result[WHISPER_POOLED], whole["whisper_language_probabilities"].numpy()[0], rtol=1e-4)


def test_the_trainer_fits_the_rule_from_what_embed_returns(signatures):
    """models/keras_model/held_out.choose_open_set with the real `embed` of a Whisper model:
    the out-of-set clips' Whisper outputs reach the rule, and the rule is stored."""
    from models.keras_model import held_out

    rng = np.random.default_rng(0)

    def rows(n: int) -> dict:
        label = rng.integers(0, 3, n)
        encoder = np.eye(3)[label] + 0.1 * rng.normal(size=(n, 3))
        whisper = np.full((n, 99), 0.5 / 96)
        whisper[np.arange(n), [(0, 6, 2)[k] for k in label]] = 0.5     # en, fr, de in Whisper's order
        return {"probabilities": np.eye(3)[label] * 0.9 + 0.033, "embedding": rng.normal(size=(n, 2)),
                "label": label, "fold": np.arange(n) % 6, "whisper": whisper / whisper.sum(1, keepdims=True),
                "whisper_embedding": encoder}

    clips = [{"waveform": (k + 1) / 4 * clip(2.0), "role": "threshold" if k < 4 else "measure",
              "language": "Italian" if k < 4 else "Czech"} for k in range(8)]
    params, report = held_out.choose_open_set(rows(120), rows(180), 1.0, clips, signatures["embed"], LANGUAGES, 0.95)
    assert params["whisper"]["codes"] == ["en", "fr", "de"]
    assert report["whisper"]["chosen_on"]["out_of_set_clips"] == 4
    assert report["whisper"]["measured"]["out_of_set_examples"] == 4
