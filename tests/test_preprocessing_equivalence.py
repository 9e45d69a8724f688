"""The faster waveform path of preprocessing_fn gives the same features as the original one.

The reference below is preprocessing_fn as it was before the fast path (tf.sparse.to_dense
of the VarLen waveform); both run through tf.Transform's AnalyzeAndTransformDataset on the
same data, with all segments of one length (the fast path) and with mixed lengths (the
general path).
"""
from __future__ import annotations

import functools
import json
import os
import tempfile

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

from config import CNN_REPRESENTATIONS, PipelineConfig, transform_custom_config, transform_settings
from contract import features
from contract.schema import SCHEMA_PATH
from models.preprocessing import (
    _normalise_per_band,
    dense_waveform,
    fixed_length,
    preprocessing_fn,
    raw_waveform,
    representations,
    segment_samples,
)

DATA = PipelineConfig().override(data={"segment_seconds": 1.0}).data
CNN = PipelineConfig().override(features={"representations": CNN_REPRESENTATIONS}).features
CONFIG = transform_custom_config(CNN, DATA, code_version="", compression="none", batch_size=8)
RATE = DATA.sample_rate


def reference_preprocessing_fn(inputs, custom_config):
    """preprocessing_fn before the fast path, kept verbatim as the reference."""
    waveform = inputs[features.WAVEFORM]
    if isinstance(waveform, tf.SparseTensor):
        waveform = tf.sparse.to_dense(waveform)
    settings = transform_settings(custom_config)
    waveform = fixed_length(tf.cast(waveform, tf.float32), segment_samples(settings.data))
    outputs = {}
    for name, value in representations(waveform, settings.features, settings.data.sample_rate).items():
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


# --- Issue 11: Transform reads `waveform` as a RaggedTensor (contract/schema.pbtxt's tensor
# representation) instead of a SparseTensor. The same tf.Examples go through TFXIO and
# Transform with the contract schema and with that schema less its representation (the old
# SparseTensor payload); the features must agree, and so must the Transform graph fed the way
# the serving signatures feed it.


def _serialized(wave, label) -> bytes:
    return tf.train.Example(features=tf.train.Features(feature={
        features.WAVEFORM: tf.train.Feature(float_list=tf.train.FloatList(value=wave)),
        features.LABEL: tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))})).SerializeToString()


def _contract_schema():
    return text_format.Parse(open(SCHEMA_PATH).read(), schema_pb2.Schema())


def _schemas():
    """The contract schema's waveform and label (and their representations), with and without them."""
    ragged, kept = _contract_schema(), (features.WAVEFORM, features.LABEL)
    kept_features = [f for f in ragged.feature if f.name in kept]
    del ragged.feature[:]
    ragged.feature.extend(kept_features)
    group = ragged.tensor_representation_group[""].tensor_representation
    for name in set(group) - set(kept):
        del group[name]
    sparse = schema_pb2.Schema()
    sparse.CopyFrom(ragged)
    sparse.ClearField("tensor_representation_group")
    return {"ragged": ragged, "sparse": sparse}


def _transform_records(path: str, schema, out: str) -> list[dict]:
    """Transform as the component runs it: TFXIO over the TFRecords, AnalyzeAndTransformDataset."""
    import apache_beam as beam
    from tfx_bsl.tfxio import tf_example_record

    source = tf_example_record.TFExampleRecord(path, schema=schema)
    rows_path = os.path.join(out, "rows.jsonl")
    with beam.Pipeline() as p, tft_beam.Context(temp_dir=os.path.join(out, "tmp"), desired_batch_size=8):
        (transformed, _), transform_fn = (p | source.BeamSource(), source.TensorAdapterConfig()) | (
            tft_beam.AnalyzeAndTransformDataset(functools.partial(preprocessing_fn, custom_config=CONFIG)))
        _ = transform_fn | tft_beam.WriteTransformFn(out)
        _ = (transformed | beam.Map(lambda row: json.dumps({k: np.asarray(v).tolist() for k, v in row.items()}))
             | beam.io.WriteToText(rows_path, shard_name_template=""))
    # the raw schema beside the graph, where TFX's Transform executor writes it (raw_feature_spec reads it)
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),
                               os.path.join(out, tft.TFTransformOutput.RAW_METADATA_DIR))
    with open(rows_path) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def both_payloads(tmp_path_factory):
    """{"ragged"|"sparse": (TFTransformOutput, Transform's rows)} and the examples they came from:
    full segments (what ingestion writes) and one short row (the general path)."""
    rng = np.random.default_rng(3)
    waves = [speech_like(rng, RATE) for _ in range(11)] + [speech_like(rng, RATE // 2)]
    root = tmp_path_factory.mktemp("payloads")
    path = str(root / "examples.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for i, wave in enumerate(waves):
            writer.write(_serialized(wave, i))          # label = index: the rows' identity after Beam
    out = {}
    for name, schema in _schemas().items():
        rows = _transform_records(path, schema, str(root / name))
        out[name] = (tft.TFTransformOutput(str(root / name)), sorted(rows, key=lambda r: int(r[features.LABEL_XF][0])))
    return out, waves, path


XF_NAMES = (features.transformed_name(features.LOG_MEL), features.transformed_name(features.MFCC))


def test_ragged_payload_gives_the_features_of_the_sparse_one(both_payloads):
    out, waves, _ = both_payloads
    (ragged_output, ragged), (sparse_output, sparse) = out["ragged"], out["sparse"]
    assert isinstance(ragged_output.raw_feature_spec()[features.WAVEFORM], tf.io.RaggedFeature)
    assert isinstance(sparse_output.raw_feature_spec()[features.WAVEFORM], tf.io.VarLenFeature)
    assert [int(r[features.LABEL_XF][0]) for r in ragged] == list(range(len(waves)))
    assert [int(r[features.LABEL_XF][0]) for r in sparse] == list(range(len(waves)))
    for a, b in zip(ragged, sparse):
        for name in XF_NAMES:
            np.testing.assert_allclose(np.asarray(a[name]), np.asarray(b[name]), rtol=1e-5, atol=1e-5)


def test_transform_graph_fed_as_serving_feeds_it_gives_transforms_features(both_payloads):
    """The serving signatures' two ways into the Transform graph: parse_example with its raw
    spec (serving_default), and a dense batch made raw by raw_waveform (predict_waveform)."""
    out, waves, path = both_payloads
    serialized = tf.constant([r.numpy() for r in tf.data.TFRecordDataset(path)])
    for name, (output, rows) in out.items():
        layer, spec = output.transform_features_layer(), output.raw_feature_spec()
        parsed = tf.io.parse_example(serialized, {k: spec[k] for k in (features.WAVEFORM, features.LABEL)})
        full = np.stack(waves[:-1])                                   # the full segments, as one dense batch
        fed = layer({features.WAVEFORM: raw_waveform(tf.constant(full), spec[features.WAVEFORM])})
        from_examples = layer(parsed)
        for xf in XF_NAMES:
            want = np.stack([np.asarray(r[xf]) for r in rows]).reshape(from_examples[xf].shape)
            np.testing.assert_allclose(from_examples[xf].numpy(), want, rtol=1e-4, atol=1e-4, err_msg=name)
            np.testing.assert_allclose(fed[xf].numpy(), want[:-1], rtol=1e-4, atol=1e-4, err_msg=name)


def test_schema_represents_every_feature_and_waveform_as_ragged():
    """tfx_bsl takes a tensor representation group as complete: Transform's projection of a
    feature missing from it fails (contract/schema.pbtxt's comment), so none may be missing."""
    schema = _contract_schema()
    group = schema.tensor_representation_group[""].tensor_representation
    assert {f.name for f in schema.feature} == set(group)
    assert group[features.WAVEFORM].WhichOneof("kind") == "ragged_tensor"
    spec = schema_utils.schema_as_feature_spec(schema).feature_spec
    assert isinstance(spec[features.WAVEFORM], tf.io.RaggedFeature) and not spec[features.WAVEFORM].partitions
