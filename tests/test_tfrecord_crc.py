"""Beam's TFRecords written with the hardware CRC32C are valid for TensorFlow's own reader.

tf.data checks both masked CRC32C checksums of every record (an independent implementation
in TensorFlow's C++), so a wrong checksum function makes reading fail.
"""
from __future__ import annotations

import os

import apache_beam as beam
import google_crc32c
import numpy as np
import tensorflow as tf
from apache_beam.io import tfrecordio
from apache_beam.testing.util import assert_that, equal_to

import storage.tfrecord_crc  # noqa: F401  (installs the CRC function)


def test_beam_uses_google_crc32c_and_it_agrees_with_crcmod():
    import crcmod.predefined

    assert tfrecordio._default_crc32c_fn.fn is google_crc32c.value
    reference = crcmod.predefined.mkPredefinedCrcFun("crc-32c")
    for data in (b"", b"123456789", np.random.default_rng(0).bytes(235_000)):
        assert tfrecordio._default_crc32c_fn(data) == reference(data)
    assert tfrecordio._default_crc32c_fn(b"123456789") == 0xE3069283  # CRC-32C check value


def test_records_written_by_beam_read_back_by_tensorflow(tmp_path):
    records = [np.random.default_rng(i).bytes(1000 * i + 1) for i in range(20)]
    prefix = os.path.join(tmp_path, "out")
    with beam.Pipeline() as pipeline:
        _ = pipeline | beam.Create(records) | beam.io.WriteToTFRecord(prefix, num_shards=1)
    files = tf.io.gfile.glob(prefix + "*")
    read = [r.numpy() for r in tf.data.TFRecordDataset(files)]
    assert sorted(read) == sorted(records)
    with beam.Pipeline() as pipeline:  # and Beam's reader checks them with the same function
        back = pipeline | beam.io.ReadFromTFRecord(prefix + "*")
        assert_that(back, equal_to(records))
