"""The data validation steps after ingestion, as one function create_pipeline calls.

StatisticsGen over the clip statistics only (statistics of 48,000-value waveforms are what
made it costly), the curated schema contract/validation_schema.pbtxt, ExampleValidator, then
DataValidator (which clips, plus the corpus checks) and, with halt_on_anomalies, AnomalyGate,
which Transform waits on.
"""
from __future__ import annotations

import os

import tensorflow_data_validation as tfdv
from tfx import v1 as tfx

from components.data_validator import AnomalyGate, DataValidator
from contract import features

# Small per-example features StatisticsGen summarises; never the waveform, keys or fingerprints.
STATISTICS_FEATURES = [features.LABEL, features.LANGUAGE] + [
    name for name in features.CLIP_STATS if name != features.CLIP_FINGERPRINT]


def validation_schema_path(schema_path: str) -> str:
    """contract/validation_schema.pbtxt beside contract/schema.pbtxt (also inside the image)."""
    return os.path.join(os.path.dirname(schema_path), "validation_schema.pbtxt")


def data_validation_components(examples, schema_path: str, halt_on_anomalies: bool, code_version: str = "",
                               *, min_speakers: int, max_imbalance: float):
    """(components to add, the component Transform must wait on or None)."""
    statistics = tfx.components.StatisticsGen(
        examples=examples, stats_options=tfdv.StatsOptions(feature_allowlist=STATISTICS_FEATURES))
    schema = tfx.components.ImportSchemaGen(schema_file=validation_schema_path(schema_path)).with_id(
        "ValidationSchemaGen")
    validator = tfx.components.ExampleValidator(statistics=statistics.outputs["statistics"],
                                                schema=schema.outputs["schema"])
    corpus = DataValidator(examples=examples, schema=schema.outputs["schema"],
                           anomalies=validator.outputs["anomalies"], min_speakers=min_speakers,
                           max_imbalance=max_imbalance, code_version=code_version)
    components = [statistics, schema, validator, corpus]
    if not halt_on_anomalies:
        return components, None
    gate = AnomalyGate(report=corpus.outputs["report"])
    return components + [gate], gate
