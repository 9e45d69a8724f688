"""Pooled Whisper features work where the pipeline needs them: inside a tf.Transform preprocessing_fn.

The Transform run's output is checked against CTranslate2's encoder on faster-whisper's
log-mel of the same windows, pooled in NumPy, so the whole path (log-mel, encoder, pooling,
constants in a v1 graph) is compared with the reference implementation.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from audio.decode import decode_audio
from models.whisper import embedding
from models.whisper import weights as W

ctranslate2 = pytest.importorskip("ctranslate2", reason="test-only reference: pip install -r requirements/test.txt")
from faster_whisper.feature_extractor import FeatureExtractor  # noqa: E402

DEMO = os.path.join(os.path.dirname(__file__), "..", "data", "demo")
CLIPS = ["English/espeak-m1__000.mp3", "French/espeak-f1__001.mp3", "Russian/espeak-m3__002.mp3",
         "Chinese/espeak-f2__003.mp3"]
N = 32_000  # 2 s windows: 100 encoder states each


def test_pool_mean_and_std_over_time():
    states = np.random.default_rng(0).normal(size=(3, 7, 512)).astype(np.float32)
    both = embedding.pool(states, "mean_std").numpy()
    np.testing.assert_allclose(both[:, :512], states.mean(1), atol=1e-5)
    np.testing.assert_allclose(both[:, 512:], states.std(1), atol=1e-5)
    np.testing.assert_allclose(embedding.pool(states, "mean").numpy(), states.mean(1), atol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        embedding.pool(states, "max")


def test_embedding_inside_a_transform_preprocessing_fn_matches_ctranslate2(tmp_path):
    import tensorflow_transform as tft  # noqa: F401 - the graph-mode tracing under test
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

    windows = []
    for key in CLIPS:
        with open(os.path.join(DEMO, key), "rb") as f:
            wav = decode_audio(f.read(), 16_000)[:N]
        windows.append(np.pad(wav, (0, N - len(wav))).astype(np.float32))
    embedder = embedding.Embedder(pooling="mean_std")
    assert (embedder.dim, embedder.bytes_per_window) == (1024, 4096)

    def preprocessing_fn(inputs):
        return {"whisper": embedder(inputs["audio"])}

    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(
        {"audio": tf.io.FixedLenFeature([N], tf.float32)}))
    with tft_beam.Context(temp_dir=str(tmp_path)):
        (rows, _), _ = (([{"audio": w} for w in windows], metadata)
                        | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn))
    got = np.stack([r["whisper"] for r in rows])

    fe = FeatureExtractor()
    feats = np.stack([fe(w)[..., :-1] for w in windows]).astype(np.float32)
    model = ctranslate2.models.Whisper(W.default_dir(), device="cpu", intra_threads=2)
    states = np.asarray(model.encode(ctranslate2.StorageView.from_array(feats)))
    ref = np.concatenate([states.mean(1), states.std(1)], axis=1)
    assert got.shape == ref.shape == (len(CLIPS), 1024)
    assert np.abs(got - ref).max() / np.abs(ref).max() < 1e-3


def test_window_features_are_traced_once_a_process_and_match_the_inline_graph():
    """tf.Transform traces a preprocessing_fn nine times a run: the encoder and language head are
    built in the first trace only, each later graph holds a call to that function, its pooled
    features are those of the encoder built inline (checked against CTranslate2 above), and
    only the latest window's function is kept."""
    if not os.path.isfile(os.path.join(W.default_dir(), "model.bin")):
        pytest.skip("Whisper weights not installed")
    n = 16_000
    features = embedding.WindowFeatures(pooling="mean")
    ops_per_trace = []
    for _ in range(3):   # three separate traces, as tf.Transform makes
        fn = tf.function(lambda x: features(x), input_signature=[tf.TensorSpec([None, n], tf.float32)])
        ops_per_trace.append(len(fn.get_concrete_function().graph.get_operations()))
    assert embedding.window_features_fn(None, "mean", n).experimental_get_tracing_count() == 1
    assert max(ops_per_trace) < 20, ops_per_trace   # a call, not the encoder's ~2,000 ops

    waveforms = np.random.default_rng(0).normal(scale=0.1, size=(2, n)).astype(np.float32)
    pooled, log_probs = fn(waveforms)
    inline = tf.function(embedding.Embedder(pooling="mean"), input_signature=[tf.TensorSpec([None, n], tf.float32)])
    np.testing.assert_allclose(pooled.numpy(), inline(waveforms).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.exp(log_probs.numpy()).sum(axis=1), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="static length"):
        embedding.window_features_fn(None, "mean", None)
    # one function kept a process (once run, each holds about 1.3 GB): another window replaces it
    first = embedding.window_features_fn(None, "mean", n)
    assert embedding.window_features_fn(None, "mean", n) is first
    embedding.window_features_fn(None, "mean", n // 2)
    assert embedding.window_features_fn(None, "mean", n) is not first
