"""The faster waveform path of preprocessing_fn gives the same features as the original one.

The reference below is preprocessing_fn as it was before the fast path (tf.sparse.to_dense
of the VarLen waveform); both run through tf.Transform's AnalyzeAndTransformDataset on the
same data, with all segments of one length (the fast path) and with mixed lengths (the
general path).
"""
from __future__ import annotations

import functools
import tempfile

import numpy as np
import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from contract import features
from models.preprocessing import (
    _normalise_per_band,
    dense_waveform,
    fixed_length,
    preprocessing_fn,
    representations,
    segment_samples,
)
from pipeline.config import PipelineConfig
from pipeline.pipeline import transform_custom_config

CONFIG = transform_custom_config(PipelineConfig().override(data={"segment_seconds": 1.0}))
RATE = CONFIG["sample_rate"]


def reference_preprocessing_fn(inputs, custom_config):
    """preprocessing_fn before the fast path, kept verbatim as the reference."""
    waveform = inputs[features.WAVEFORM]
    if isinstance(waveform, tf.SparseTensor):
        waveform = tf.sparse.to_dense(waveform)
    waveform = fixed_length(tf.cast(waveform, tf.float32), segment_samples(custom_config))
    outputs = {}
    for name, value in representations(waveform, custom_config).items():
        scale_free = features.REPRESENTATIONS[name] == "waveform"
        outputs[features.transformed_name(name)] = value if scale_free else _normalise_per_band(value)
    if features.LABEL in inputs:
        outputs[features.LABEL_XF] = tf.reshape(inputs[features.LABEL], [-1, 1])
    return outputs


def speech_like(rng, samples):
    """Noise bursts with a pitch-like tone: non-trivial spectra in every band."""
    t = np.arange(samples) / RATE
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(2, 6) * t)
    wave = envelope * (0.3 * np.sin(2 * np.pi * rng.uniform(100, 300) * t) + 0.05 * rng.standard_normal(samples))
    return wave.astype(np.float32)


def transform(fn, raw):
    spec = {features.WAVEFORM: tf.io.VarLenFeature(tf.float32), features.LABEL: tf.io.FixedLenFeature([1], tf.int64)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tempfile.TemporaryDirectory() as tmp, tft_beam.Context(temp_dir=tmp, desired_batch_size=8):
        (transformed, _), _ = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            functools.partial(fn, custom_config=CONFIG))
    return transformed


def assert_same_features(raw):
    new, old = transform(preprocessing_fn, raw), transform(reference_preprocessing_fn, raw)
    assert len(new) == len(old) == len(raw)
    for a, b in zip(new, old):
        for name in (features.transformed_name(features.LOG_MEL), features.transformed_name(features.MFCC)):
            np.testing.assert_allclose(np.asarray(a[name]), np.asarray(b[name]), rtol=1e-5, atol=1e-5)
        assert list(a[features.LABEL_XF]) == list(b[features.LABEL_XF])


def test_same_features_when_all_segments_are_full():
    rng = np.random.default_rng(1)
    assert_same_features([{features.WAVEFORM: speech_like(rng, RATE), features.LABEL: [i % 3]} for i in range(20)])


def test_same_features_when_segments_differ_in_length():
    rng = np.random.default_rng(2)
    assert_same_features([{features.WAVEFORM: speech_like(rng, int(RATE * rng.uniform(0.4, 1.3))),
                           features.LABEL: [i % 3]} for i in range(20)])


def test_dense_waveform_matches_to_dense_for_every_representation():
    rows = [np.arange(1, 6, dtype=np.float32), np.arange(10, 15, dtype=np.float32)]
    ragged_rows = [rows[0], rows[1][:2]]
    for values in (rows, ragged_rows):
        ragged = tf.ragged.constant(values)
        expected = ragged.to_tensor().numpy()
        np.testing.assert_array_equal(dense_waveform(ragged.to_sparse()).numpy(), expected)
        np.testing.assert_array_equal(dense_waveform(ragged).numpy(), expected)
    dense = tf.constant(np.stack(rows))
    np.testing.assert_array_equal(dense_waveform(dense).numpy(), np.stack(rows))
