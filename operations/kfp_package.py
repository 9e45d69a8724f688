"""TFX's KubeflowV2DagRunner output -> the package KFP itself takes (pipeline spec + platform spec).

TFX writes a Vertex-style PipelineJob (the spec wrapped with runtimeConfig); KFP's
`create_run_from_pipeline_package` and its UI upload take the bare pipeline spec and, in a
.yaml file, a second document with the Kubernetes platform spec (secrets as environment).
"""
from __future__ import annotations

import json
import os
import tempfile

AWS_SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def platform_spec(executor_labels, secret: str) -> dict:
    """kfp-kubernetes' secretAsEnv for every container step: the secret's keys as AWS variables."""
    mapping = [{"secretKey": key, "envVar": key} for key in AWS_SECRET_KEYS]
    return {"platforms": {"kubernetes": {"deploymentSpec": {"executors": {
        label: {"secretAsEnv": [{"secretName": secret, "keyToEnv": mapping}]} for label in sorted(executor_labels)}}}}}


def to_kfp_package(pipeline_job: dict, pipeline_root: str, env: dict, secret: str) -> list[dict]:
    """TFX's PipelineJob -> [pipeline spec, platform spec?], checked against kfp-pipeline-spec's protos."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    spec = json_format.ParseDict(pipeline_job["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    spec.default_pipeline_root = pipeline_root
    containers = [label for label, executor in spec.deployment_spec.fields["executors"].struct_value.fields.items()
                  if "container" in executor.struct_value.fields]
    for label in containers:
        container = spec.deployment_spec.fields["executors"].struct_value.fields[label].struct_value.fields["container"]
        if env:
            container.struct_value.update({"env": [{"name": k, "value": v} for k, v in sorted(env.items())]})
    docs = [json_format.MessageToDict(spec)]
    if secret:
        platform = json_format.ParseDict(platform_spec(containers, secret), pipeline_spec_pb2.PlatformSpec())
        docs.append(json_format.MessageToDict(platform))
    return docs


def write_kfp_package(pipeline, output: str, *, image: str, command: list[str], env: dict, secret: str) -> str:
    """Compile `pipeline` with every step in `image` running `command`; write .yaml or .json atomically."""
    from tfx import v1 as tfx

    with tempfile.TemporaryDirectory() as scratch:
        runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
                default_image=image, default_commands=command),
            output_filename="pipeline_job.json", output_dir=scratch)
        runner.run(pipeline, write_out=True)
        with open(os.path.join(scratch, "pipeline_job.json")) as f:
            pipeline_job = json.load(f)
    docs = to_kfp_package(pipeline_job, pipeline.pipeline_info.pipeline_root, env, secret)
    path = os.path.abspath(output)
    partial = path + ".partial"
    with open(partial, "w") as f:
        if path.endswith((".yaml", ".yml")):
            import yaml

            yaml.safe_dump_all(docs, f, sort_keys=True)
        else:
            json.dump(docs[0], f, indent=2, sort_keys=True)
    os.replace(partial, path)
    return path
