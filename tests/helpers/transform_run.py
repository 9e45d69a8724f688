"""Run a preprocessing_fn through tf.Transform's Beam analyse-and-transform on in-memory rows
of waveform + label, as the pipeline's Transform receives them (waveform as a RaggedTensor)."""
from __future__ import annotations

import tempfile

import tensorflow as tf
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata, schema_utils

from contract import features


def transform_waveforms(raw: list[dict], preprocessing_fn) -> tuple[list[dict], dict]:
    """(transformed rows, their feature spec) for rows {waveform: float32 [n], label: [int]}."""
    spec = {features.WAVEFORM: tf.io.RaggedFeature(tf.float32, row_splits_dtype=tf.int64),
            features.LABEL: tf.io.FixedLenFeature([1], tf.int64)}
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(spec))
    with tempfile.TemporaryDirectory() as tmp, tft_beam.Context(temp_dir=tmp):
        (rows, transformed_metadata), _ = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(preprocessing_fn)
    return rows, schema_utils.schema_as_feature_spec(transformed_metadata.schema).feature_spec
