"""TFX Transform's executor, writing `transformed_examples` with --intermediate-compression, in
batches of --transform-batch-size, with one loaded transform graph for all splits.

Why it exists: TFX 1.16's Transform always gzips its materialized examples
(`TransformProcessor._EncodeAndWrite` writes `WriteToTFRecord(..., file_name_suffix='.gz')`),
and gzip was about 30 % of Transform's time per example (docs/kubeflow_and_scale.md). Ingestion
and augmentation follow `RuntimeConfig.intermediate_compression`; this makes Transform follow it
too. Every reader (the Trainer's TFXIO, contract.codec) decides the compression by the suffix.

Batches: TFX 1.16 gives TFT no batch size for tf.Examples (`TransformProcessor._GetDesiredBatchSize`
returns None), so TFXIO's adaptive batching grows towards 1,000 segments on long runs, and the
STFT of such a batch took Transform's peak RSS from 1.5 GB (200 minutes of audio) to 2.4 GB
(600 minutes). A fixed batch (64 by default, as the feature-limit benchmark uses) bounds it.

One transform graph for both splits: TFX transforms each split with its own
`tft_beam.TransformDataset`, and tf.Transform gives each its own `shared.Shared()` handle, so
each split's DoFn loaded the transform graph again and paid its first call (graph optimisation)
again. Cheap for the CNN; with Whisper's encoder in the graph, 3.4 s plus about 8 s a split and
about 2 GB of RSS (docs/benchmarks.md). During a run, DoFns in this process asking for the same
graph, inputs and outputs get one loaded state (`_GraphStates`); on runners whose workers are
other processes (multi_processing, Flink, Dataflow) each worker loads it as tf.Transform does.

What it replaces, re-check on every TFX upgrade (tests/test_transform_executor.py fails when
these change): TFX 1.16's `TransformProcessor._EncodeAndWrite(pcoll, schema, file_format,
output_path)`, for TFRecord output only (other formats stay TFX's), `TransformProcessor.
_GetDesiredBatchSize(data_format, schema)`, and `Executor.Do` building
its processor as `TransformProcessor()` by that module's global name: `Do` below points that name
at a subclass carrying this run's compression while TFX's `Do` runs (one run at a time per process);
and tf.Transform 1.16's `_RunMetaGraphDoFn._make_graph_state(saved_model_dir)`, which its
`process` calls through the DoFn's shared handle.
"""
from __future__ import annotations

import threading

import apache_beam as beam
import pyarrow as pa
from tensorflow_transform.beam import impl as tft_beam_impl
from tfx.components.transform import executor as tfx_transform
from tfx.components.transform import labels
from tfx.types import standard_component_specs

from config import TransformExecutorSettings, transform_executor_settings
from contract.codec import tfrecord_suffix

_TFX_PROCESSOR = tfx_transform.TransformProcessor
_TFT_MAKE_GRAPH_STATE = tft_beam_impl._RunMetaGraphDoFn._make_graph_state
_ONE_RUN_AT_A_TIME = threading.Lock()  # the names patched are the TFX and TFT modules', shared by threads


def _settings(exec_properties: dict) -> TransformExecutorSettings:
    return transform_executor_settings(exec_properties.get(standard_component_specs.CUSTOM_CONFIG_KEY))


def compression_of(exec_properties: dict) -> str:
    """The compression in Transform's custom_config (config/wire.py); an error names it if missing or unknown."""
    compression = _settings(exec_properties).compression
    tfrecord_suffix(compression)  # raises on an unknown one
    return compression


@beam.ptransform_fn
@beam.typehints.with_input_types(tuple[pa.RecordBatch, dict[str, pa.Array]])
def _WriteTFRecords(pcoll, schema, output_path: str, compression: str):  # noqa: N802 (Beam's label style)
    """TFX 1.16's TFRecord branch of _EncodeAndWrite, with the suffix (hence Beam's AUTO compression) configured."""
    return (pcoll
            | "EncodeAndSerialize" >> beam.ParDo(_TFX_PROCESSOR._RecordBatchToExamplesFn(schema))
            | "ExtractExamples" >> beam.Values()
            | "WriteToTFRecord" >> beam.io.WriteToTFRecord(output_path,
                                                           file_name_suffix=tfrecord_suffix(compression)))


def batch_size_of(exec_properties: dict) -> int:
    """The batch size in Transform's custom_config; an error names it if missing or bad."""
    return _settings(exec_properties).batch_size


class _Processor(_TFX_PROCESSOR):
    """TFX's processor whose materialized TFRecords use `compression` and whose batches hold
    `batch_size` examples (both set on a per-run subclass)."""

    compression: str
    batch_size: int

    def _GetDesiredBatchSize(self, data_format, schema):  # noqa: N802 (TFX's name)
        return self.batch_size

    def _EncodeAndWrite(self, schema, file_format: str, output_path: str):  # noqa: N802 (TFX's name)
        if file_format != labels.FORMAT_TFRECORD:
            return super()._EncodeAndWrite(schema=schema, file_format=file_format, output_path=output_path)
        return _WriteTFRecords(schema, output_path, self.compression)


class _GraphStates:
    """tf.Transform's loaded graph states for one run, one per (graph, inputs, outputs, TF mode)."""

    def __init__(self):
        self._states: dict[tuple, object] = {}
        self._lock = threading.Lock()

    def make(self, dofn, saved_model_dir: str):
        """In place of `_RunMetaGraphDoFn._make_graph_state`: load once, hand the same state to every DoFn."""
        key = (saved_model_dir, tuple(sorted(dofn._get_input_tensor_names())),
               tuple(sorted(dofn._exclude_outputs)), dofn._use_tf_compat_v1)
        with self._lock:
            if key not in self._states:
                self._states[key] = _TFT_MAKE_GRAPH_STATE(dofn, saved_model_dir)
            return self._states[key]


class Executor(tfx_transform.Executor):
    """TFX's Transform executor; its TFRecord output follows the compression in custom_config's executor
    entry, and the splits share one loaded transform graph."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX's name)
        processor = type("TransformProcessor", (_Processor,), {"compression": compression_of(exec_properties),
                                                               "batch_size": batch_size_of(exec_properties)})
        states = _GraphStates()

        def make_graph_state(dofn, saved_model_dir):
            return states.make(dofn, saved_model_dir)

        with _ONE_RUN_AT_A_TIME:
            tfx_transform.TransformProcessor = processor
            tft_beam_impl._RunMetaGraphDoFn._make_graph_state = make_graph_state
            try:
                super().Do(input_dict, output_dict, exec_properties)
            finally:
                tfx_transform.TransformProcessor = _TFX_PROCESSOR
                tft_beam_impl._RunMetaGraphDoFn._make_graph_state = _TFT_MAKE_GRAPH_STATE
