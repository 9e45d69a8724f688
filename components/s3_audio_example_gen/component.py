"""TFX component definition of the S3 audio ingestion (spec, channels, properties)."""
from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.s3_audio_example_gen import executor
from config import DATA_PROPERTY, DataConfig, data_to_property


def exec_properties(data: DataConfig, *, compression: str, code_version: str = "") -> dict:
    """The component's execution properties (also what tests and benchmarks hand the executor)."""
    return {DATA_PROPERTY: data_to_property(data), executor.COMPRESSION_PROPERTY: compression,
            executor.CODE_VERSION_PROPERTY: code_version}


class S3AudioExampleGenSpec(types.ComponentSpec):
    """Execution properties are recorded in ML Metadata and decide cache hits."""

    PARAMETERS = {
        # The DataConfig (config/wire.py's versioned JSON): bucket, languages, geometry, split ...
        # The corpus fingerprint in it changes with the bucket's content, so a cached run is not
        # reused for new data.
        DATA_PROPERTY: ExecutionParameter(type=str),
        # Intermediate TFRecords: "none" or "gzip" (RuntimeConfig.intermediate_compression).
        executor.COMPRESSION_PROPERTY: ExecutionParameter(type=str),
        # Digest of the executor's code: a code change invalidates the cache.
        executor.CODE_VERSION_PROPERTY: ExecutionParameter(type=str, optional=True),
    }
    # The latest earlier ingestion of this pipeline (pipeline/pipeline.py's resolver): objects it
    # holds unchanged are carried over, not fetched again (components/s3_audio_example_gen/ledger.py).
    INPUTS = {executor.PREVIOUS_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True)}
    OUTPUTS = {"examples": ChannelParameter(type=standard_artifacts.Examples)}


class S3AudioExampleGen(base_beam_component.BaseBeamComponent):
    """Lists, fetches, decodes and segments the clips under s3://bucket/prefix{Language}/.

    Output: an Examples artifact with `train` and `eval` splits of tf.Examples in TFRecords,
    gzipped if `compression` says so (features in contract/features.py), split by speaker, plus
    `ingestion_report.json` with
    per-split, per-language counts, every skipped object with its reason and every ignored key
    (lists capped at 1000 entries, counts complete). Given `previous_examples`, only objects
    that artifact does not hold (by key and ETag) are fetched; the rest is carried over, and
    this run's clips become span n+1 (the artifact's `span` property).
    """

    SPEC_CLASS = S3AudioExampleGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(executor.Executor)

    def __init__(self, *, data: DataConfig, compression: str, code_version: str = "",
                 previous_examples: types.BaseChannel | None = None):
        """`data` and `compression` come from config (DataConfig, RuntimeConfig); none has a default here."""
        spec = S3AudioExampleGenSpec(
            **exec_properties(data, compression=compression, code_version=code_version),
            examples=types.Channel(type=standard_artifacts.Examples),
            **({executor.PREVIOUS_EXAMPLES_KEY: previous_examples} if previous_examples is not None else {}),
        )
        super().__init__(spec=spec)
