"""contract/geometry.py: the one window geometry and pooling rule, and that every user applies it alike.

The grids and weights are checked against answers worked out by hand; the NumPy and TensorFlow
forms of the rule against each other; and the SavedModel's predict_waveform against the .tflite
and against the command line's chunked merge (serving/windows.py) on a clip with silence and a
partial last window (tests/helpers/stand_in_model.py's stand-in model: the export takes seconds).
"""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from audio.segment import fixed_segments
from contract import geometry as g
from contract.geometry import WindowGeometry
from models.keras_model.signatures import make_signatures
from serving.local_model import LocalModel
from serving.tflite_model import TFLiteModel, export_tflite
from serving.windows import analyse_stream, probe_geometry
from tests.helpers.stand_in_model import HOP, LANGUAGES, RATE, WINDOW, TransformOutput, clip, model


def test_window_geometry_rounds_seconds_once_and_hops_half_a_window():
    default = WindowGeometry(16000, 3.0)
    assert (default.window_samples, default.hop_samples, default.hop_seconds) == (48000, 24000, 1.5)
    odd = WindowGeometry(22050, 0.5)                        # 11025 samples: the hop rounds down
    assert (odd.window_samples, odd.hop_samples) == (11025, 5512)
    odder = WindowGeometry(22050, 1.5)                      # 33075 samples; half a window is 16537.5
    assert odder.hop_samples == g.to_samples(odder.hop_seconds, 22050) == 16537 != g.to_samples(1.5 / 2, 22050)
    assert g.to_samples(0.10004, 10000) == 1000 and g.to_samples(0.10006, 10000) == 1001
    assert WindowGeometry.from_samples(RATE, WINDOW) == WindowGeometry(RATE, 3.0)
    assert WindowGeometry.from_samples(RATE, WINDOW).hop_samples == HOP
    assert default.ingestion_starts(60000) == [0, 24000] and default.serving_window_count(60000) == 2
    with pytest.raises(ValueError):
        WindowGeometry(16000, 0.0)


@pytest.mark.parametrize("total, starts", [
    (0, []),                    # nothing to cut
    (3, [0]),                   # shorter than a window: one padded window
    (4, [0]),
    (5, [0, 2]),                # a remainder: one more window, 3 of its 4 samples real
    (6, [0, 2]),
    (7, [0, 2, 4]),
    (8, [0, 2, 4]),
])
def test_ingestion_grid_by_hand(total, starts):
    assert g.ingestion_starts(total, 4, 2) == starts
    segments = fixed_segments(np.arange(1, total + 1, dtype=np.float32), 4, 2)
    assert [int(s[0]) - 1 for s in segments] == starts and all(len(s) == 4 for s in segments)


def test_ingestion_keeps_a_remainder_only_with_half_a_window_of_real_audio():
    # With a hop of a whole window (never the pipeline's), the remainder rule decides alone.
    assert g.ingestion_starts(10, 4, 4) == [0, 4, 8]          # 2 real samples of 4: kept
    assert g.ingestion_starts(9, 4, 4) == [0, 4]              # 1 of 4: dropped


@pytest.mark.parametrize("window", [4, 5, 24000])
def test_at_the_half_window_hop_ingestion_and_serving_cut_the_same_windows(window):
    hop = max(1, window // 2)
    for total in list(range(1, 4 * window)) if window < 100 else [1, 23999, 24000, 24001, 36000, 36001, 61000]:
        count = g.serving_window_count(total, window, hop)
        assert g.ingestion_starts(total, window, hop) == list(g.serving_starts(total, window, hop)), total
        assert (count - 1) * hop < total <= (count - 1) * hop + window      # covered, and no window of padding only


def test_serving_weights_and_pooling_by_hand():
    real = g.real_samples(5 * RATE, g.serving_starts(5 * RATE, WINDOW, HOP), WINDOW)
    np.testing.assert_allclose(g.window_weight(real, WINDOW), [1.0, 1.0, 2 / 3])
    weights = g.pooling_weights(g.window_weight(real, WINDOW), [1.0, 0.0, 1.0])     # the middle window: no speech
    np.testing.assert_allclose(weights, [1.0, 0.0, 2 / 3])
    per_window = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    np.testing.assert_allclose(g.weighted_pool(per_window, weights), [0.6, 0.4])
    np.testing.assert_array_equal(g.weighted_pool(per_window, [0.0, 0.0, 0.0]), [0.0, 0.0])   # no speech: zeros


def test_numpy_and_tensorflow_forms_agree():
    rng = np.random.default_rng(0)
    totals = rng.integers(0, 10 * WINDOW, size=50)
    counts = [g.serving_window_count(int(t), WINDOW, HOP) for t in totals]
    np.testing.assert_array_equal(g.tf_serving_window_count(tf.constant(totals, tf.int32), WINDOW, HOP).numpy(),
                                  counts)
    count = max(counts)
    starts = np.arange(count) * HOP
    real = g.tf_real_samples(tf.constant(totals), tf.constant(starts, tf.int32), WINDOW).numpy()
    np.testing.assert_array_equal(real, [g.real_samples(t, starts, WINDOW) for t in totals])
    speech = rng.random((len(totals), count)) > 0.3
    per_window = rng.random((len(totals), count, 4)).astype(np.float32)
    tf_weights = g.tf_pooling_weights(tf.constant(real), WINDOW, tf.constant(speech))
    np.testing.assert_allclose(g.tf_window_weight(tf.constant(real), WINDOW).numpy(),
                               g.window_weight(real, WINDOW), rtol=1e-6)
    np_weights = [g.pooling_weights(g.window_weight(r, WINDOW), s) for r, s in zip(real, speech)]
    np.testing.assert_allclose(tf_weights.numpy(), np_weights, rtol=1e-6)
    np.testing.assert_allclose(g.tf_weighted_pool(tf.constant(per_window), tf_weights).numpy(),
                               [g.weighted_pool(p, w) for p, w in zip(per_window, np_weights)], rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The stand-in model's SavedModel and its TFLite export."""
    folder = tmp_path_factory.mktemp("stand_in")
    stand_in = model()
    saved = str(folder / "1")
    tf.saved_model.save(stand_in, saved, signatures=make_signatures(stand_in, TransformOutput(), LANGUAGES, WINDOW,
                                                                    RATE))
    lite = str(folder / "model.tflite")
    export_tflite(saved, lite)
    return saved, lite


def silence_speech_partial() -> np.ndarray:
    """3 s of silence, 3 s of quiet speech-like audio, 2 s of loud: windows every 1.5 s, the
    first silent, the last holding 2 s of audio in its 3 s. Loudness moves the stand-in
    model's answer, so a wrong weight for the last window or the silent one shows."""
    return np.concatenate([np.zeros(3 * RATE, np.float32), 0.3 * clip(3.0), 3.0 * clip(2.0)])


def test_saved_model_and_tflite_pool_silence_and_a_partial_last_window_alike(exported):
    saved_dir, lite_path = exported
    audio = silence_speech_partial()
    saved = {k: v.numpy()[0] for k, v in
             tf.saved_model.load(saved_dir).signatures["predict_waveform"](waveform=tf.constant(audio[None])).items()}
    lite = TFLiteModel(lite_path).analyse(audio, RATE)
    # the clip is what the test needs: a window without speech, a partial last one, windows that disagree
    np.testing.assert_allclose(saved["window_weight"], [1.0, 1.0, 1.0, 1.0, 2 / 3], rtol=1e-6)
    np.testing.assert_array_equal(saved["window_speech"], [0.0, 1.0, 1.0, 1.0, 1.0])
    probabilities = saved["window_probabilities"]
    equal = probabilities[1:].mean(0)
    assert np.abs(equal - saved["probabilities"]).max() > 1e-2           # weighting by real audio shows
    assert np.abs(probabilities.mean(0) - saved["probabilities"]).max() > 1e-2   # so does leaving silence out
    # the TFLite runner: the same windows, weights, speech flags and pooled answer
    np.testing.assert_allclose(lite["window_start_s"], saved["window_start_s"], atol=1e-6)
    np.testing.assert_allclose(lite["window_weight"], saved["window_weight"], rtol=1e-6)
    np.testing.assert_array_equal(lite["window_speech"], saved["window_speech"])
    np.testing.assert_allclose(lite["window_probabilities"], probabilities, atol=1e-4)
    np.testing.assert_allclose(lite["probabilities"], saved["probabilities"], atol=1e-3)


@pytest.mark.parametrize("backend", ["saved_model", "tflite"])
def test_chunked_recordings_pool_like_one_call_on_the_whole(exported, backend):
    """serving/windows.py merges chunks of two windows with the NumPy form of the rule."""
    saved_dir, lite_path = exported
    audio = silence_speech_partial()
    whole = LocalModel(saved_dir).analyse(audio, RATE)
    model = LocalModel(saved_dir) if backend == "saved_model" else TFLiteModel(lite_path)
    geometry = probe_geometry(model, RATE)
    assert (geometry.window, geometry.hop) == (WINDOW, HOP)
    blocks = np.array_split(audio, 7)
    result = analyse_stream(model, blocks, geometry, windows_per_call=2)
    np.testing.assert_allclose(list(result["probabilities"].values()), whole["probabilities"], atol=1e-3)
    assert [w["start_s"] for w in result["timeline"]] == pytest.approx(whole["window_start_s"], abs=1e-6)
