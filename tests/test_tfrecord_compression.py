"""Readers of intermediate Examples follow the files' suffix, as Beam's AUTO and tfx_bsl's TFXIO do."""
from __future__ import annotations

import os

import pytest
import tensorflow as tf
from tfx_bsl.tfxio import dataset_util

from contract.codec import compression_type, encode_segment, read_split, split_files, tfrecord_suffix


def _write(path, options, count):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options=options) as writer:
        for i in range(count):
            writer.write(encode_segment(tf.zeros([160]).numpy() + i, label=i, language="English", speaker_id="s",
                                        source_key=f"English/{i}.mp3", segment_index=0))


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_read_split_reads_what_each_setting_writes(tmp_path, compression):
    suffix = tfrecord_suffix(compression)
    _write(str(tmp_path / "Split-train" / f"data_tfrecord-00000-of-00001{suffix}"),
           "GZIP" if compression == "gzip" else None, 3)
    assert [e.features.feature["label"].int64_list.value[0] for e in read_split(str(tmp_path), "train")] == [0, 1, 2]


def test_compression_is_decided_like_tfx_bsl(tmp_path):
    """Same answer as tfx_bsl's detect_compression_type (what Trainer's TFXIO datasets use)."""
    for name, files in (("gz", ["a.gz", "b.gz"]), ("plain", ["a", "b-00000-of-00001"])):
        for f in files:
            (tmp_path / name).mkdir(exist_ok=True)
            (tmp_path / name / f).write_bytes(b"")
        paths = sorted(str(p) for p in (tmp_path / name).iterdir())
        reference = dataset_util.detect_compression_type(tf.constant([str(tmp_path / name / "*")])).numpy().decode()
        assert compression_type(paths) == reference
    with pytest.raises(ValueError, match="mixed"):
        compression_type(["x/a.gz", "x/b"])
    with pytest.raises(ValueError, match="unknown TFRecord compression"):
        tfrecord_suffix("zstd")


def test_split_files_lists_files_not_folders(tmp_path):
    _write(str(tmp_path / "Split-eval" / "data_tfrecord-00000-of-00001"), None, 1)
    os.makedirs(tmp_path / "Split-eval" / "beam-temp-x")
    assert [os.path.basename(f) for f in split_files(str(tmp_path), "eval")] == ["data_tfrecord-00000-of-00001"]


def test_the_setting_is_validated_and_reaches_every_writer():
    from components import transform_executor
    from config import ConfigError, PipelineConfig
    from pipeline.pipeline import create_pipeline

    with pytest.raises(ConfigError, match="--intermediate-compression"):
        PipelineConfig().override(runtime={"intermediate_compression": "zip"})
    config = PipelineConfig().override(runtime={"intermediate_compression": "gzip"}, augmenter={"copies": 1})
    components = {c.id: c for c in create_pipeline(config).components}
    for name in ("S3AudioExampleGen", "AudioAugmenter"):
        assert components[name].exec_properties["compression"] == "gzip"
    # Transform's materialized examples: its executor reads the setting from custom_config.
    transform = components["Transform"]
    assert transform.executor_spec.executor_class is transform_executor.Executor
    assert transform_executor.compression_of(transform.exec_properties) == "gzip"
    default = {c.id: c for c in create_pipeline(PipelineConfig()).components}["Transform"]
    assert transform_executor.compression_of(default.exec_properties) == "none"  # the default, as for the others


def test_encode_segment_writes_what_protobuf_would():
    """The waveform's map entry is written by hand: the record must parse, in protobuf and in
    TensorFlow, to exactly the tf.Example protobuf builds from the same features."""
    import numpy as np

    from contract import features
    from contract.codec import _bytes, _int64, duration_features, float_feature

    rng = np.random.default_rng(0)
    for length in (0, 1, 16000, 48000):
        wave = rng.uniform(-1, 1, length).astype(np.float32)
        extra = duration_features(length / 16000)
        record = encode_segment(wave, label=3, language="Français", speaker_id="spk é", source_key="French/a b.mp3",
                                segment_index=7, extra=extra)
        reference = tf.train.Example(features=tf.train.Features(feature={
            features.WAVEFORM: float_feature(wave), features.LABEL: _int64(3), features.LANGUAGE: _bytes("Français"),
            features.SPEAKER_ID: _bytes("spk é"), features.SOURCE_KEY: _bytes("French/a b.mp3"),
            features.SEGMENT_INDEX: _int64(7), **extra}))
        assert tf.train.Example.FromString(record) == reference
        parsed = tf.io.parse_single_example(record, {features.WAVEFORM: tf.io.VarLenFeature(tf.float32),
                                                     features.LABEL: tf.io.FixedLenFeature([], tf.int64)})
        np.testing.assert_array_equal(parsed[features.WAVEFORM].values.numpy(), wave)
        assert int(parsed[features.LABEL]) == 3
