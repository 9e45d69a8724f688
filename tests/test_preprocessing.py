"""preprocessing_fn: shapes, the mel scale, per-utterance and per-band normalisation."""
from __future__ import annotations

import dataclasses
import functools
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from config import CNN_REPRESENTATIONS, PipelineConfig, transform_custom_config
from contract import features
from models.preprocessing import fixed_length, preprocessing_fn, spectral_features

DEFAULTS = PipelineConfig().override(features={"representations": CNN_REPRESENTATIONS})
CONFIG = DEFAULTS.features
RATE = DEFAULTS.data.sample_rate
CUSTOM_CONFIG = transform_custom_config(CONFIG, dataclasses.replace(DEFAULTS.data, segment_seconds=1.0),
                                        code_version="", compression="none", batch_size=64)
LOG_MEL_XF, MFCC_XF = features.transformed_name(features.LOG_MEL), features.transformed_name(features.MFCC)


def tone(freq, seconds=1.0, amplitude=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def mel_centres():
    """Centre frequency of each mel band, from the same weight matrix tf.signal builds."""
    matrix = tf.signal.linear_to_mel_weight_matrix(
        CONFIG.num_mel_bins, CONFIG.fft_length // 2 + 1, RATE, CONFIG.lower_hz, CONFIG.upper_hz).numpy()
    bins = np.linspace(0, RATE / 2, CONFIG.fft_length // 2 + 1)
    return bins[matrix.argmax(axis=0)]


def test_shapes_follow_the_config():
    log_mel, mfcc = spectral_features(tf.constant(np.stack([tone(440), tone(880)])), CONFIG, RATE)
    frames = 1 + (RATE - 400) // 160       # 25 ms windows, 10 ms hop
    assert log_mel.shape == (2, frames, 64)
    assert mfcc.shape == (2, frames, 13)


def test_a_tone_lights_the_mel_band_that_contains_it():
    config = dataclasses.replace(CONFIG, utterance_norm=False)
    centres = mel_centres()
    for freq in (300.0, 1000.0, 3000.0):
        log_mel, _ = spectral_features(tf.constant(tone(freq)[None]), config, RATE)
        loudest = int(np.argmax(log_mel.numpy()[0].mean(axis=0)))
        assert abs(centres[loudest] - freq) / freq < 0.08, (freq, centres[loudest])


def test_utterance_norm_removes_each_bands_mean_and_a_gain_change():
    quiet, loud = tone(700, amplitude=0.05), tone(700, amplitude=0.5)
    a, ma = spectral_features(tf.constant(quiet[None]), CONFIG, RATE)
    b, mb = spectral_features(tf.constant(loud[None]), CONFIG, RATE)
    assert np.allclose(a.numpy().mean(axis=1), 0.0, atol=1e-4)
    assert np.allclose(ma.numpy().mean(axis=1), 0.0, atol=1e-4)
    # A 20 dB gain is a constant offset in log-mel, which the per-utterance mean removes.
    assert np.allclose(a.numpy(), b.numpy(), atol=1e-2)


def test_fixed_length_crops_and_pads():
    x = tf.constant(np.ones((2, 10), np.float32))
    assert fixed_length(x, 6).shape == (2, 6)
    padded = fixed_length(x, 14).numpy()
    assert padded.shape == (2, 14) and padded[:, :10].min() == 1.0 and padded[:, 10:].max() == 0.0


def test_preprocessing_fn_normalises_each_band_over_the_training_data():
    rng = np.random.default_rng(0)
    raw = []
    for i in range(24):
        freq = 200.0 + 150.0 * i
        wave = tone(freq, seconds=rng.uniform(0.6, 1.2)) + 0.01 * rng.standard_normal(1).astype(np.float32)
        raw.append({features.WAVEFORM: wave, features.LABEL: [i % 3]})
    spec = {features.WAVEFORM: tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64),
            features.LABEL: tf.io.FixedLenFeature([1], tf.int64)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tempfile.TemporaryDirectory() as tmp, tft_beam.Context(temp_dir=tmp):
        (transformed, transformed_metadata), _ = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            functools.partial(preprocessing_fn, custom_config=CUSTOM_CONFIG))
    out_spec = transformed_metadata.schema
    frames = 1 + (RATE - 400) // 160
    log_mel = np.stack([np.asarray(r[LOG_MEL_XF]).reshape(frames, 64) for r in transformed])
    mfcc = np.stack([np.asarray(r[MFCC_XF]).reshape(frames, 13) for r in transformed])
    assert [r[features.LABEL_XF][0] for r in transformed] == [i % 3 for i in range(24)]
    for x in (log_mel, mfcc):
        flat = x.reshape(-1, x.shape[-1])
        assert np.allclose(flat.mean(axis=0), 0.0, atol=1e-3)
        assert np.allclose(flat.std(axis=0), 1.0, atol=1e-2)
    # Fixed shapes in the transformed schema: the Trainer reads dense [frames, bands] tensors.
    out_features = schema_utils.schema_as_feature_spec(out_spec).feature_spec
    assert list(out_features[LOG_MEL_XF].shape) == [frames, 64]
    assert list(out_features[MFCC_XF].shape) == [frames, 13]


def test_padding_does_not_shift_the_utterance_mean():
    rng = np.random.default_rng(0)
    speech = tone(500) + 0.1 * rng.standard_normal(RATE).astype(np.float32)   # broadband, like speech
    half = speech.copy()
    half[RATE // 2:] = 0.0                       # the second half is padding
    full_mel, _ = spectral_features(tf.constant(speech[None, : RATE // 2]), CONFIG, RATE)
    padded_mel, padded_mfcc = spectral_features(tf.constant(half[None]), CONFIG, RATE)
    n = full_mel.shape[1] - 2                    # frames wholly inside the audible half
    # Only the two frames straddling the edge differ; without the mask the shift is ~7.
    assert np.abs(padded_mel.numpy()[0, :n] - full_mel.numpy()[0, :n]).mean() < 0.15
    silent = 1 + (RATE // 2) // 160 + 1          # first frame wholly in the padding
    assert np.all(padded_mel.numpy()[0, silent:] == 0.0) and np.all(padded_mfcc.numpy()[0, silent:] == 0.0)
