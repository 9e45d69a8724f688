"""Beam executor of AudioAugmenter: read each split, add copies to the chosen ones, write."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator

import apache_beam as beam
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils

from audio.augment import AugmentationPolicy, augment, rng_for
from config import AUGMENTER_PROPERTY, augmenter_from_property
from contract import features
from contract.codec import example_key, example_with_waveform, read_floats, tfrecord_suffix
from storage import tfrecord_crc  # noqa: F401  (hardware CRC32C for the TFRecords)

_NAMESPACE = "AudioAugmenter"


def augmented_copies(serialized: bytes, copies: int, seed: int, sample_rate: int,
                     policy: AugmentationPolicy, applied: dict | None = None) -> Iterator[bytes]:
    """The original record, then `copies` records whose waveform is augmented.

    The parameters come from the policy for the example's language (class-conditional
    augmentation); `applied` counts how often each augmentation was used.
    """
    yield serialized
    example = tf.train.Example.FromString(serialized)
    feats = example.features.feature
    waveform = read_floats(feats[features.WAVEFORM])
    language = feats[features.LANGUAGE].bytes_list.value[0].decode("utf-8") if features.LANGUAGE in feats else None
    config = policy.for_language(language)
    key = example_key(example)
    del feats[features.WAVEFORM]
    others = example.features.SerializeToString()  # each copy: these, plus its own waveform's bytes
    for copy_index in range(1, copies + 1):
        out, names = augment(waveform, sample_rate, rng_for(seed, key, copy_index), config)
        for name in names if applied is not None else ():
            applied[name] = applied.get(name, 0) + 1
        yield example_with_waveform(others, out)


class _Augment(beam.DoFn):
    def __init__(self, copies: int, seed: int, sample_rate: int, config: dict):
        self._args = (copies, seed, sample_rate)
        self._config_dict = config
        self._policy = None
        self._made = beam.metrics.Metrics.counter(_NAMESPACE, "augmented_copies")

    def setup(self):
        self._policy = AugmentationPolicy.from_dict(self._config_dict)

    def process(self, serialized: bytes):
        copies, seed, rate = self._args
        applied: dict = {}
        for n, record in enumerate(augmented_copies(serialized, copies, seed, rate, self._policy, applied)):
            if n:
                self._made.inc()
            yield record
        for name, count in applied.items():
            beam.metrics.Metrics.counter(_NAMESPACE, f"applied_{name}").inc(count)


class Executor(base_beam_executor.BaseBeamExecutor):
    def Do(self, input_dict, output_dict, exec_properties):
        source = artifact_utils.get_single_instance(input_dict["examples"])
        target = artifact_utils.get_single_instance(output_dict["augmented_examples"])
        split_names = artifact_utils.decode_split_names(source.split_names)
        to_augment = set(json.loads(exec_properties["splits"]))
        unknown = to_augment - set(split_names)
        if unknown:
            raise ValueError(f"cannot augment split(s) {sorted(unknown)}: input has {split_names}")
        target.split_names = artifact_utils.encode_split_names(split_names)
        examples_utils.set_payload_format(target, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        augmenter = augmenter_from_property(exec_properties[AUGMENTER_PROPERTY])
        dofn = _Augment(augmenter.copies, augmenter.seed, int(exec_properties["sample_rate"]), dict(augmenter.policy))

        with self._make_beam_pipeline() as pipeline:
            for split in split_names:
                records = pipeline | f"Read{split}" >> beam.io.ReadFromTFRecord(
                    os.path.join(artifact_utils.get_split_uri([source], split), "*"))
                if split in to_augment:
                    records = records | f"Augment{split}" >> beam.ParDo(dofn)
                records | f"Write{split}" >> beam.io.WriteToTFRecord(
                    os.path.join(artifact_utils.get_split_uri([target], split), "data_tfrecord"),
                    file_name_suffix=tfrecord_suffix(exec_properties["compression"]))
