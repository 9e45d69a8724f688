"""TFX component definition of the S3 audio ingestion (spec, channels, parameters)."""
from __future__ import annotations

import json
from collections.abc import Sequence

from tfx import types
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components.s3_audio_example_gen import executor


class S3AudioExampleGenSpec(types.ComponentSpec):
    """Execution properties are recorded in ML Metadata and decide cache hits."""

    PARAMETERS = {
        "bucket": ExecutionParameter(type=str),
        "prefix": ExecutionParameter(type=str),
        # Empty: the standard chain (AWS_ENDPOINT_URL, then real AWS).
        "s3_endpoint": ExecutionParameter(type=str),
        "languages": ExecutionParameter(type=str),  # JSON list; order = label ids
        "sample_rate": ExecutionParameter(type=int),
        "segment_seconds": ExecutionParameter(type=float),
        "hop_seconds": ExecutionParameter(type=float),
        "eval_fraction": ExecutionParameter(type=float),
        "split_seed": ExecutionParameter(type=int),
        # Changes when the bucket's content changes, so a cached run is not reused for new data.
        "corpus_fingerprint": ExecutionParameter(type=str),
        # Fail the run when more than this fraction of the listed clips are bad (default 0.05).
        "max_skipped_fraction": ExecutionParameter(type=float),
        # Per object, how long a failing store is retried before the component fails (default 60).
        "fetch_retry_seconds": ExecutionParameter(type=float),
        # Intermediate TFRecords: "none" or "gzip" (RuntimeConfig.intermediate_compression).
        "compression": ExecutionParameter(type=str),
        # Digest of the executor's code: a code change invalidates the cache.
        "code_version": ExecutionParameter(type=str, optional=True),
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

    def __init__(
        self,
        *,
        bucket: str,
        languages: Sequence[str],
        prefix: str,
        s3_endpoint: str | None,
        sample_rate: int,
        segment_seconds: float,
        hop_seconds: float,
        eval_fraction: float,
        split_seed: int,
        corpus_fingerprint: str = "",
        code_version: str = "",
        max_skipped_fraction: float,
        fetch_retry_seconds: float,
        compression: str,
        previous_examples: types.BaseChannel | None = None,
    ):
        """Every setting comes from pipeline/config.py (DataConfig); none has a default here."""
        if not languages:
            raise ValueError("at least one language is needed")
        spec = S3AudioExampleGenSpec(
            bucket=bucket,
            prefix=prefix,
            s3_endpoint=s3_endpoint or "",
            languages=json.dumps(list(languages)),
            sample_rate=sample_rate,
            segment_seconds=segment_seconds,
            hop_seconds=hop_seconds,
            eval_fraction=eval_fraction,
            split_seed=split_seed,
            corpus_fingerprint=corpus_fingerprint,
            code_version=code_version,
            max_skipped_fraction=max_skipped_fraction,
            fetch_retry_seconds=fetch_retry_seconds,
            compression=compression,
            examples=types.Channel(type=standard_artifacts.Examples),
            **({executor.PREVIOUS_EXAMPLES_KEY: previous_examples} if previous_examples is not None else {}),
        )
        super().__init__(spec=spec)
