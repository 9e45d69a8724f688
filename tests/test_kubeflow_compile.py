"""kubeflow_runner compiles the same create_pipeline into a KFP v2 spec."""
from __future__ import annotations

import json

import kubeflow_runner


def test_spec_has_every_component_with_the_image_and_root(tmp_path):
    output = tmp_path / "langid_pipeline.json"
    kubeflow_runner.main(["--image", "registry.example/langid-tfx:1.0", "--pipeline-root", "s3://team-bucket/tfx",
                          "--output", str(output), "--beam-arg=--direct_num_workers=2"])
    spec = json.loads(output.read_text())
    pipeline_spec = spec.get("pipelineSpec", spec)
    tasks = pipeline_spec["root"]["dag"]["tasks"]
    assert {"S3AudioExampleGen", "AudioAugmenter", "ImportSchemaGen", "Transform", "Trainer", "Evaluator",
            "Pusher"} <= set(tasks)
    executors = pipeline_spec["deploymentSpec"]["executors"]
    images = {e["container"]["image"] for e in executors.values() if "container" in e}
    assert images == {"registry.example/langid-tfx:1.0"}
    assert spec.get("runtimeConfig", {}).get("gcsOutputDirectory") == "s3://team-bucket/tfx"
    ingestion = executors["S3AudioExampleGen_executor"]["container"]["args"]
    assert ingestion[:2] == ["--executor_class_path", "components.s3_audio_example_gen.executor.Executor"]
    assert "--direct_num_workers=2" in ingestion
