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
import os
import sys

from config import KUBEFLOW_DIRECT_ARGS, ConfigError
from contract.schema import SCHEMA_RELATIVE_PATH
from pipeline import flags

# Where the Dockerfile puts the project inside the image (the steps' working directory).
IMAGE_PROJECT_DIR = "/langid-tfx"
# The command of every Kubeflow step (wraps TFX's KFP v2 launcher; see the module).
KUBEFLOW_CONTAINER_COMMAND = ["python", "-m", "operations.container_entrypoint"]


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
            # The previous-ingestion resolver's own strategy is refused by the KFP v2 compiler:
            # on Kubeflow every run ingests everything.
            runtime={"custom_resolvers": False, "pipeline_root": root, "direct_args": KUBEFLOW_DIRECT_ARGS,
                     "schema_path": f"{IMAGE_PROJECT_DIR}/{SCHEMA_RELATIVE_PATH}"})
        # The image's installed copy is checked where the image is built (Dockerfile); a given
        # location (s3://...) is checked here, before the spec is written.
        if args.config.features.encoder_weights:
            flags.check_encoder_weights(args.config)
    except ConfigError as err:
        p.error(str(err))
    return args


# Beam's own S3 credential options: refused, since every --beam-arg is written into the spec.
BEAM_CREDENTIAL_OPTIONS = ("s3_access_key_id", "s3_secret_access_key", "s3_session_token")


def compile_pipeline(args) -> str:
    """Build the pipeline from args.config and write the KFP package; return its path."""
    from operations.kfp_package import write_kfp_package
    from pipeline.pipeline import create_pipeline

    # The endpoint (not a secret) goes into every container, where boto3, Beam and
    # tensorflow-io (via operations.container_entrypoint) all read it.
    env = {"AWS_ENDPOINT_URL": args.s3_endpoint} if args.s3_endpoint else {}
    return write_kfp_package(create_pipeline(args.config), args.output, image=args.image,
                             command=KUBEFLOW_CONTAINER_COMMAND, env=env, secret=args.aws_secret)


def main(argv=None) -> int:
    path = compile_pipeline(parse_args(argv))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
