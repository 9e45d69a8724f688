"""Run the Beam-heavy stages alone: S3 ingestion and Transform, as the full pipeline builds them.

The multi-process test and the scale benchmark (bench/scale.py) both need these two stages
with a chosen set of Beam arguments, their outputs, and how long each took. It lives with
the benchmark (tests already import bench helpers; bench never imports tests/), not in the
pipeline package: no pipeline run uses it.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from config import PipelineConfig
from contract.codec import records_of, split_files

INGESTION = "S3AudioExampleGen"
AUGMENTATION = "AudioAugmenter"
TRANSFORM = "Transform"


@dataclass
class StageRun:
    examples_uri: str
    transformed_uri: str
    seconds: dict            # component id -> seconds, from ML Metadata
    audio_seconds: float     # voiced audio ingested (the ingestion report's total)
    segments: int


def run_ingestion_and_transform(root: str, config: PipelineConfig) -> StageRun:
    """Ingest and transform what `config` names under `root` (fresh ML Metadata there, no cache);
    `config.runtime` gives the Beam settings."""
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline, upstream_of
    from reports.runs import latest_run

    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(os.path.join(root, "metadata.sqlite"))
    config = config.override(augmenter={"copies": 0}, push={"serving_model_dir": os.path.join(root, "serving")},
                             runtime={"pipeline_root": os.path.join(root, "pipeline_root"), "enable_cache": False})
    full = create_pipeline(config, metadata_connection_config=metadata)
    stages = upstream_of(full, TRANSFORM)
    tfx.orchestration.LocalDagRunner().run(stages)

    run = latest_run(metadata_store.MetadataStore(metadata), config.runtime.pipeline_name)
    seconds = {component: (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
               for component, (execution, _) in run.items()}
    examples = run[INGESTION][1]["examples"][0].uri
    with tf.io.gfile.GFile(os.path.join(examples, "ingestion_report.json")) as f:
        report = json.load(f)
    audio = sum(entry["seconds"] for langs in report["per_split"].values() for entry in langs.values())
    return StageRun(examples, run[TRANSFORM][1]["transformed_examples"][0].uri, seconds, audio,
                    sum(report["segments"].values()))


def run_stage(root: str, stage: str, config: PipelineConfig) -> dict:
    """Run one Beam stage under `root`, reusing (from ML Metadata's cache there) what it reads.

    Calling it for INGESTION, then AUGMENTATION, then TRANSFORM in separate processes measures
    each stage alone (its time, its process's memory) as the full pipeline builds it. Transform
    reads the ingested examples (not the augmented ones), so its figures compare with
    ingestion's on the same audio. `config.runtime` gives the Beam settings; the augmenter runs
    only when `stage` is AUGMENTATION. Returns {"seconds": the component's own time from ML
    Metadata, "uri": its main output}.
    """
    from ml_metadata.metadata_store import metadata_store
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline, upstream_of
    from reports.runs import latest_run

    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(os.path.join(root, "metadata.sqlite"))
    config = config.override(
        augmenter={"copies": config.augmenter.copies if stage == AUGMENTATION else 0},
        push={"serving_model_dir": os.path.join(root, "serving")},
        runtime={"pipeline_root": os.path.join(root, "pipeline_root"), "enable_cache": True})
    full = create_pipeline(config, metadata_connection_config=metadata)
    tfx.orchestration.LocalDagRunner().run(upstream_of(full, stage))
    execution, outputs = latest_run(metadata_store.MetadataStore(metadata), config.runtime.pipeline_name)[stage]
    uri = next(iter(outputs.values()))[0].uri if stage != TRANSFORM else outputs["transformed_examples"][0].uri
    return {"seconds": (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000,
            "uri": uri}


def read_records(examples_uri: str) -> dict[str, list[dict]]:
    """split -> decoded tf.Examples ({feature: bytes list | int list | float32 array}), file order."""
    out = {}
    for split_dir in sorted(tf.io.gfile.glob(os.path.join(examples_uri, "Split-*"))):  # local or s3://
        files = split_files(os.path.dirname(split_dir), os.path.basename(split_dir)[len("Split-"):])
        records = []
        for serialized in records_of(files):
            example = tf.train.Example.FromString(serialized.numpy())
            row = {}
            for name, feature in example.features.feature.items():
                kind = feature.WhichOneof("kind")
                if kind == "float_list":
                    row[name] = np.asarray(feature.float_list.value, dtype=np.float32)
                elif kind == "int64_list":
                    row[name] = list(feature.int64_list.value)
                else:
                    row[name] = list(feature.bytes_list.value)
            records.append(row)
        out[os.path.basename(split_dir)[len("Split-"):]] = records
    return out
