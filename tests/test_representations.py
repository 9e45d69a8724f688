"""Every representation on a synthetic signal with a known answer; MFCC against numpy/scipy;
the model builds one branch per representation."""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import pytest
import scipy.fft
import tensorflow as tf

from config import CNN_REPRESENTATIONS, ModelConfig, PipelineConfig, transform_custom_config
from contract import features
from models.preprocessing import deltas, preprocessing_fn, representations

RATE = 16000
ALL = ["waveform", "stft_magnitude", "power_spectrogram", "log_mel", "mfcc"]
FEATURES = PipelineConfig().override(features={"representations": CNN_REPRESENTATIONS}).features
CONFIG = dataclasses.replace(FEATURES, utterance_norm=False)


def tone(freq, seconds=1.0, amplitude=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def numpy_mel_matrix(num_bins, fft_length, rate, lower_hz, upper_hz):
    """HTK-mel triangular filters over linear-frequency bins (the DC bin gets no weight)."""
    def to_mel(hz):
        return 1127.0 * np.log1p(np.asarray(hz) / 700.0)
    freqs = np.linspace(0.0, rate / 2.0, fft_length // 2 + 1)
    mel = to_mel(freqs)
    edges = np.linspace(to_mel(lower_hz), to_mel(upper_hz), num_bins + 2)
    matrix = np.zeros((freqs.size, num_bins))
    for m in range(num_bins):
        low, centre, high = edges[m], edges[m + 1], edges[m + 2]
        rising, falling = (mel - low) / (centre - low), (high - mel) / (high - centre)
        matrix[:, m] = np.maximum(0.0, np.minimum(rising, falling))
    matrix[0] = 0.0
    return matrix


def numpy_mfcc(wave, config):
    """Reference MFCC: numpy STFT (periodic Hann) -> power -> mel -> log -> scipy DCT-II / sqrt(2N)."""
    frame, hop, n_fft = 400, 160, int(config.fft_length)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(frame) / frame)
    count = 1 + (len(wave) - frame) // hop
    frames = np.stack([wave[i * hop: i * hop + frame] * window for i in range(count)])
    power = np.abs(np.fft.rfft(frames, n=n_fft)) ** 2
    mel = power @ numpy_mel_matrix(config.num_mel_bins, n_fft, RATE, config.lower_hz, config.upper_hz)
    log_mel = np.log(mel + 1e-6)
    n = log_mel.shape[-1]
    return scipy.fft.dct(log_mel, type=2, axis=-1)[..., : config.num_mfcc] / np.sqrt(2.0 * n), power


@pytest.mark.parametrize("num_mel_bins, num_mfcc", [(64, 13), (128, 20)])
def test_mfcc_matches_a_numpy_scipy_reference(num_mel_bins, num_mfcc):
    rng = np.random.default_rng(0)
    wave = (tone(300) + tone(1200, amplitude=0.2) + 0.05 * rng.standard_normal(RATE)).astype(np.float32)
    config = dataclasses.replace(CONFIG, num_mel_bins=num_mel_bins, num_mfcc=num_mfcc,
                                 representations=["mfcc", "power_spectrogram"])
    out = representations(tf.constant(wave[None]), config, RATE)
    expected, power = numpy_mfcc(wave.astype(np.float64), config)
    assert out["mfcc"].shape == (1, expected.shape[0], num_mfcc)
    np.testing.assert_allclose(out["mfcc"].numpy()[0], expected, atol=2e-3 * np.abs(expected).max())
    np.testing.assert_allclose(np.exp(out["power_spectrogram"].numpy()[0]), power + 1e-6, rtol=2e-3, atol=1e-5)


@pytest.mark.parametrize("bins, lower, upper", [(64, 60.0, 7600.0), (128, 60.0, 7600.0), (128, 300.0, 4000.0)])
def test_log_mel_band_count_and_range(bins, lower, upper):
    config = dataclasses.replace(CONFIG, num_mel_bins=bins, lower_hz=lower, upper_hz=upper,
                                 representations=["log_mel"])
    matrix = numpy_mel_matrix(bins, 512, RATE, lower, upper)
    centres = np.linspace(0, RATE / 2, 257)[matrix.argmax(axis=0)]
    for freq in (500.0, 1000.0, 3000.0):
        log_mel = representations(tf.constant(tone(freq)[None]), config, RATE)["log_mel"].numpy()[0]
        assert log_mel.shape[-1] == bins
        loudest = int(np.argmax(log_mel.mean(axis=0)))
        assert abs(centres[loudest] - freq) <= max(0.06 * freq, 2 * RATE / 512)   # 6 %, or two FFT bins
    if lower >= 300.0:
        # Outside [lower, upper] a tone hardly registers: > 50 dB below an in-range tone of equal level.
        inside = representations(tf.constant(tone(1000.0)[None]), config, RATE)["log_mel"].numpy()[0].max()
        for outside in (lower / 2, upper * 1.25):
            below = representations(tf.constant(tone(outside)[None]), config, RATE)["log_mel"].numpy()[0].max()
            assert inside - below > np.log(1e5)


def test_stft_magnitude_peaks_at_the_tone_bin_and_is_gain_invariant():
    config = dataclasses.replace(FEATURES, representations=["stft_magnitude"])
    quiet = representations(tf.constant(tone(1000.0, amplitude=0.05)[None]), config, RATE)["stft_magnitude"].numpy()[0]
    loud = representations(tf.constant(tone(1000.0, amplitude=0.5)[None]), config, RATE)["stft_magnitude"].numpy()[0]
    assert quiet.shape[-1] == 257
    assert int(np.argmax(quiet.mean(axis=0))) == round(1000.0 * 512 / RATE)
    np.testing.assert_allclose(quiet, loud, rtol=1e-3, atol=1e-4)


def test_waveform_representation_has_unit_rms():
    config = dataclasses.replace(FEATURES, representations=["waveform"])
    out = representations(tf.constant(np.stack([tone(200, amplitude=0.01), tone(900, amplitude=0.7)])), config, RATE)
    rms = np.sqrt(np.mean(out["waveform"].numpy() ** 2, axis=1))
    np.testing.assert_allclose(rms, 1.0, rtol=0.02)


def test_deltas_of_a_ramp_are_its_slope():
    t = np.arange(30, dtype=np.float32)
    x = tf.constant(np.stack([2.0 * t, -0.5 * t], axis=-1)[None])       # [1, 30 frames, 2 coefficients]
    d = deltas(x).numpy()[0]
    np.testing.assert_allclose(d[2:-2], np.tile([2.0, -0.5], (26, 1)), rtol=1e-5)
    config = dataclasses.replace(CONFIG, num_mfcc=13, mfcc_deltas=2, representations=["mfcc"])
    assert representations(tf.constant(tone(440)[None]), config, RATE)["mfcc"].shape[-1] == 39


def test_unknown_representation_or_delta_order_is_rejected_by_the_feature_config():
    with pytest.raises(ValueError, match="representations"):
        representations(tf.constant(tone(440)[None]), dataclasses.replace(CONFIG, representations=["chroma"]), RATE)
    with pytest.raises(ValueError, match="mfcc-deltas"):
        representations(tf.constant(tone(440)[None]), dataclasses.replace(CONFIG, mfcc_deltas=3), RATE)


def test_preprocessing_fn_outputs_every_selected_representation_with_fixed_shapes():
    from tests.helpers.transform_run import transform_waveforms

    config = transform_custom_config(
        dataclasses.replace(FEATURES, representations=ALL, num_mel_bins=128, mfcc_deltas=1),
        dataclasses.replace(PipelineConfig().data, segment_seconds=0.5), code_version="", compression="none",
        batch_size=64)
    raw = [{features.WAVEFORM: tone(200.0 + 100 * i, seconds=0.5), features.LABEL: [i % 2]} for i in range(6)]
    _, out = transform_waveforms(raw, functools.partial(preprocessing_fn, custom_config=config))
    frames = 1 + (8000 - 400) // 160
    expected = {"waveform": [8000], "stft_magnitude": [frames, 257], "power_spectrogram": [frames, 257],
                "log_mel": [frames, 128], "mfcc": [frames, 26]}
    assert {k: list(v.shape) for k, v in out.items() if k != features.LABEL_XF} == {
        features.transformed_name(k): v for k, v in expected.items()}


def test_model_builds_one_branch_per_representation():
    from models.keras_model.model import build_model

    sizes = dataclasses.asdict(ModelConfig(conv_filters=(4, 8), temporal_units=16, embedding_units=8))
    shapes = {features.transformed_name(k): v for k, v in
              {"waveform": (8000,), "stft_magnitude": (48, 257), "log_mel": (48, 128), "mfcc": (48, 26)}.items()}
    model = build_model(3, shapes, **sizes)
    assert sorted(model.input_names) == sorted(shapes)
    names = {layer.name for layer in model.layers}
    assert {"embedding", "probabilities", "waveform_conv0", "stft_magnitude_conv0", "log_mel_conv0",
            "mfcc_temporal"} <= names
    batch = {k: tf.random.normal((2, *v)) for k, v in shapes.items()}
    probabilities = model(batch, training=False).numpy()
    assert probabilities.shape == (2, 3) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # Only the representations given: a log-mel-only model has no other branch.
    solo = build_model(3, {features.transformed_name("log_mel"): (48, 64)}, **sizes)
    assert solo.input_names == [features.transformed_name("log_mel")]
    with pytest.raises(ValueError, match="no model branch"):
        build_model(3, {"chroma": (48, 12)}, **sizes)
