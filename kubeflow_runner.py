"""Compile the langid-tfx pipeline to a Kubeflow Pipelines v2 spec (KubeflowV2DagRunner).

The spec runs every component in `--image` (built from this repo's Dockerfile) with the
same create_pipeline as local_runner. S3 credentials reach the containers as the standard
AWS environment variables from a Kubernetes secret (`--aws-secret`, a reference in the
spec's Kubernetes platform section); nothing is baked into image or spec.

The file is KFP's own package format, which `kfp.Client().create_run_from_pipeline_package`
and the KFP UI's upload take as is: the pipeline spec (defaultPipelineRoot = --pipeline-root)
and, for .yaml output, a second document with the Kubernetes platform spec. TFX writes a
Vertex-style PipelineJob (spec wrapped with runtimeConfig); this unwraps it.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

from contract.schema import SCHEMA_RELATIVE_PATH
from pipeline import flags
from pipeline.config import KUBEFLOW_DIRECT_ARGS, ConfigError

# Where the Dockerfile puts the project inside the image (the steps' working directory).
IMAGE_PROJECT_DIR = "/langid-tfx"
# The command of every Kubeflow step (wraps TFX's KFP v2 launcher; see the module).
KUBEFLOW_CONTAINER_COMMAND = ["python", "-m", "pipeline.container_entrypoint"]


def build_parser() -> argparse.ArgumentParser:
    """The shared pipeline flags (pipeline/flags.py) plus this runner's own."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    flags.add_pipeline_flags(p)
    kfp = p.add_argument_group("kubeflow")
    kfp.add_argument("--image", required=True,
                     help="container image with this project installed, e.g. REGISTRY/langid-tfx:TAG")
    kfp.add_argument("--pipeline-root", required=True, help="artifact root, e.g. s3://BUCKET/tfx")
    kfp.add_argument("--output", default="langid_pipeline.yaml",
                     help="where to write the KFP v2 package: .yaml (spec + Kubernetes platform spec) or .json "
                          "(spec only)")
    kfp.add_argument("--s3-endpoint", default="", help="S3-compatible endpoint (MinIO); empty for AWS")
    kfp.add_argument("--aws-secret", default="",
                     help="Kubernetes secret whose AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY keys become those "
                          "environment variables in every step (.yaml output); empty: the pods' own chain (IRSA)")
    kfp.add_argument("--with-baseline-resolver", action="store_true",
                     help="keep the latest-blessed-model resolver (Vertex AI Pipelines only: open-source KFP "
                          "rejects resolver steps, so by default the Evaluator gates on the absolute bound)")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """The flags, plus `args.config`: the PipelineConfig they stand for (validated here)."""
    p = build_parser()
    args = p.parse_args(argv)
    secrets_in_args = [arg for arg in args.beam_arg if arg.lstrip("-").startswith(BEAM_CREDENTIAL_OPTIONS)]
    if secrets_in_args:
        p.error(f"{secrets_in_args[0].split('=')[0]} would write a credential into the spec in plain text; "
                "give the steps a Kubernetes secret with --aws-secret instead")
    if args.aws_secret and not args.output.endswith((".yaml", ".yml")):
        p.error("--aws-secret needs .yaml output: the Kubernetes platform spec is a second YAML document")
    try:
        config = flags.config_from_flags(args, os.environ)
        root = args.pipeline_root
        args.config = config.override(
            data={"s3_endpoint": args.s3_endpoint},
            evaluation={"baseline_resolver": args.with_baseline_resolver},
            push={"serving_model_dir": args.serving_dir
                  or f"{root.rstrip('/')}/serving_model/{config.push.model_name}"},
            runtime={"pipeline_root": root, "direct_args": KUBEFLOW_DIRECT_ARGS,
                     "schema_path": f"{IMAGE_PROJECT_DIR}/{SCHEMA_RELATIVE_PATH}"})
    except ConfigError as err:
        p.error(str(err))
    return args


AWS_SECRET_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
# Beam's own S3 credential options: refused, since every --beam-arg is written into the spec.
BEAM_CREDENTIAL_OPTIONS = ("s3_access_key_id", "s3_secret_access_key", "s3_session_token")


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


def compile_pipeline(args) -> str:
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    pipeline = create_pipeline(args.config)
    with tempfile.TemporaryDirectory() as scratch:
        runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
                default_image=args.image, default_commands=KUBEFLOW_CONTAINER_COMMAND),
            output_filename="pipeline_job.json", output_dir=scratch)
        runner.run(pipeline, write_out=True)
        with open(os.path.join(scratch, "pipeline_job.json")) as f:
            pipeline_job = json.load(f)
    # The endpoint (not a secret) goes into every container, where boto3, Beam and
    # tensorflow-io (via pipeline.container_entrypoint) all read it.
    env = {"AWS_ENDPOINT_URL": args.s3_endpoint} if args.s3_endpoint else {}
    docs = to_kfp_package(pipeline_job, args.pipeline_root, env, args.aws_secret)
    path = os.path.abspath(args.output)
    partial = path + ".partial"
    with open(partial, "w") as f:
        if path.endswith((".yaml", ".yml")):
            import yaml

            yaml.safe_dump_all(docs, f, sort_keys=True)
        else:
            json.dump(docs[0], f, indent=2, sort_keys=True)
    os.replace(partial, path)
    return path


def main(argv=None) -> int:
    path = compile_pipeline(parse_args(argv))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
