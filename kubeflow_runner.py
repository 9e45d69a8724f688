"""Compile the langid-tfx pipeline to a Kubeflow Pipelines v2 spec (KubeflowV2DagRunner).

The spec runs every component in `--image` (built from this repo's Dockerfile) with the
same create_pipeline as local_runner. S3 credentials reach the containers as the standard
AWS environment variables from a Kubernetes secret; nothing is baked into image or spec.
"""
from __future__ import annotations

import argparse
import os
import sys

from pipeline import configs


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--image", required=True, help="container image with this project installed, e.g. REGISTRY/langid-tfx:TAG")
    p.add_argument("--pipeline-root", required=True, help="artifact root, e.g. s3://BUCKET/tfx")
    p.add_argument("--output", default="langid_pipeline.json", help="where to write the KFP v2 pipeline spec")
    p.add_argument("--bucket", default=configs.BUCKET, help="S3 bucket holding {Language}/{file}.mp3")
    p.add_argument("--prefix", default=configs.PREFIX)
    p.add_argument("--s3-endpoint", default="", help="S3-compatible endpoint (MinIO); empty for AWS")
    p.add_argument("--languages", default=",".join(configs.LANGUAGES))
    p.add_argument("--serving-dir", default=None,
                   help="Pusher destination (default: PIPELINE_ROOT/serving_model/langid)")
    p.add_argument("--train-steps", type=int, default=configs.TRAIN_STEPS)
    p.add_argument("--eval-steps", type=int, default=configs.EVAL_STEPS)
    p.add_argument("--augment-copies", type=int, default=configs.AUGMENT_COPIES)
    p.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                   help="Beam pipeline argument for every Beam-powered component, repeatable")
    return p.parse_args(argv)


def compile_pipeline(args) -> str:
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    serving_dir = args.serving_dir or f"{args.pipeline_root.rstrip('/')}/serving_model/{configs.SERVING_MODEL_NAME}"
    pipeline = create_pipeline(
        configs.PIPELINE_NAME, args.pipeline_root,
        bucket=args.bucket, prefix=args.prefix, languages=configs.parse_languages(args.languages),
        s3_endpoint=args.s3_endpoint, augment_copies=args.augment_copies, train_steps=args.train_steps,
        eval_steps=args.eval_steps, serving_model_dir=serving_dir, beam_pipeline_args=args.beam_arg)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=args.image),
        output_filename=os.path.basename(args.output),
        output_dir=os.path.dirname(os.path.abspath(args.output)))
    runner.run(pipeline, write_out=True)
    return os.path.abspath(args.output)


def main(argv=None) -> int:
    path = compile_pipeline(parse_args(argv))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
