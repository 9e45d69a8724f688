"""Encode and decode the raw tf.Examples (names in contract/features.py), and their key.

Building a FloatList from 48,000 floats element by element costs ~12 ms in Python; the
packed wire form of `repeated float` is just the little-endian bytes, so going through
it is ~200x faster. Used by ingestion and augmentation, which handle every segment.
`encode_segment` goes one step further: it serializes the small features with protobuf and
appends the waveform's map entry as bytes, so the 192 KB of samples are copied once instead
of being parsed into a FloatList and serialized again (0.26 -> 0.06 ms per second of audio,
measured on 30-120 s clips; docs/kubeflow_and_scale.md).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from contract import features

_TAG = b"\x0a"  # field 1 (value), wire type 2 (length-delimited, packed)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packed_floats(values: np.ndarray) -> bytes:
    """The wire form of a FloatList holding `values`."""
    data = np.ascontiguousarray(values, dtype="<f4").tobytes()
    return _TAG + _varint(len(data)) + data if data else b""


def _length_delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def float_feature(values: np.ndarray) -> tf.train.Feature:
    return tf.train.Feature(float_list=tf.train.FloatList.FromString(_packed_floats(values)))


def _float_feature_entry(name: str, values: np.ndarray) -> bytes:
    """One entry of Features' `feature` map (key = field 1, value = field 2), as wire bytes:
    a Feature whose float_list (field 2) holds `values`."""
    feature = _length_delimited(b"\x12", _packed_floats(values))
    entry = _length_delimited(b"\x0a", name.encode("utf-8")) + _length_delimited(b"\x12", feature)
    return _length_delimited(b"\x0a", entry)


def read_floats(feature: tf.train.Feature) -> np.ndarray:
    wire = feature.float_list.SerializeToString()
    if not wire:
        return np.zeros(0, dtype=np.float32)
    if wire[:1] != _TAG:
        return np.asarray(feature.float_list.value, dtype=np.float32)
    pos, length, shift = 1, 0, 0
    while True:
        byte = wire[pos]
        length |= (byte & 0x7F) << shift
        pos += 1
        shift += 7
        if not byte & 0x80:
            break
    if pos + length != len(wire):  # not one packed run: take the slow, general path
        return np.asarray(feature.float_list.value, dtype=np.float32)
    return np.frombuffer(wire, dtype="<f4", offset=pos, count=length // 4).astype(np.float32)


# RuntimeConfig.intermediate_compression -> the TFRecord files' suffix. Every reader (Beam's
# AUTO, tfx_bsl's TFXIO, records_of below) decides the compression by that suffix alone.
TFRECORD_SUFFIXES = {"none": "", "gzip": ".gz"}


def tfrecord_suffix(compression: str) -> str:
    if compression not in TFRECORD_SUFFIXES:
        raise ValueError(f"unknown TFRecord compression {compression!r}; choose one of {sorted(TFRECORD_SUFFIXES)}")
    return TFRECORD_SUFFIXES[compression]


def split_files(examples_uri: str, split: str) -> list[str]:
    """The TFRecord files of one split of an Examples artifact, compressed or not."""
    pattern = f"{examples_uri}/Split-{split}/*"
    return sorted(f for f in tf.io.gfile.glob(pattern) if not tf.io.gfile.isdir(f))


def compression_type(files: list[str]) -> str:
    """"GZIP" when every file ends in .gz, "" when none does (as tfx_bsl's detect_compression_type)."""
    gzipped = {f.endswith(".gz") for f in files}
    if len(gzipped) > 1:
        raise ValueError(f"mixed gzipped and plain TFRecord files: {files}")
    return "GZIP" if gzipped == {True} else ""


def records_of(files: list[str]) -> tf.data.TFRecordDataset:
    """The serialized records of `files`, decompressed as their suffix says."""
    return tf.data.TFRecordDataset(files, compression_type=compression_type(files))


def read_split(examples_uri: str, split: str):
    """Yield the tf.train.Examples of one split of an Examples artifact (any intermediate_compression)."""
    for record in records_of(split_files(examples_uri, split)):
        yield tf.train.Example.FromString(record.numpy())


def _int64(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


def _bytes(text: str) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[text.encode("utf-8")]))


def duration_bucket(seconds: float) -> str:
    """Seconds of real audio rounded up to whole seconds ("1s", "2s", ...): the Evaluator's duration slice."""
    return f"{max(1, int(np.ceil(seconds - 1e-6)))}s"


def duration_features(real_seconds: float) -> dict[str, tf.train.Feature]:
    """A segment's real audio (the rest is zero padding) and its duration bucket."""
    return {features.DURATION_S: tf.train.Feature(float_list=tf.train.FloatList(value=[real_seconds])),
            features.DURATION_BUCKET: _bytes(duration_bucket(real_seconds))}


def encode_segment(waveform: np.ndarray, *, label: int, language: str, speaker_id: str, source_key: str,
                   segment_index: int, extra: dict[str, tf.train.Feature] | None = None) -> bytes:
    """One serialized raw tf.Example: a segment of a clip with its label and provenance
    (plus `extra` features, such as the clip's statistics)."""
    feature = {
        features.LABEL: _int64(label),
        features.LANGUAGE: _bytes(language),
        features.SPEAKER_ID: _bytes(speaker_id),
        features.SOURCE_KEY: _bytes(source_key),
        features.SEGMENT_INDEX: _int64(segment_index),
        **(extra or {}),
    }
    return example_with_waveform(tf.train.Features(feature=feature).SerializeToString(), waveform)


def example_with_waveform(other_features: bytes, waveform: np.ndarray) -> bytes:
    """A serialized tf.Example: `other_features` (a serialized tf.train.Features without the
    waveform) plus `waveform`. Example = field 1 (features); Features = its map entries in any
    order: the small ones from protobuf, then the waveform's, written directly."""
    return _length_delimited(b"\x0a", other_features + _float_feature_entry(features.WAVEFORM, waveform))


def example_key(example: tf.train.Example) -> str:
    """'{source_key}#{segment_index}': names one segment across runs, workers and copies."""
    feats = example.features.feature
    return "{}#{}".format(feats[features.SOURCE_KEY].bytes_list.value[0].decode("utf-8"),
                          feats[features.SEGMENT_INDEX].int64_list.value[0])
