"""Run the langid-tfx pipeline on this machine (LocalDagRunner, SQLite ML Metadata, Beam DirectRunner).

With no --s3-endpoint, no AWS_ENDPOINT_URL and no --bucket, it starts an embedded S3 server
on 127.0.0.1, uploads the demo corpus (data/demo) to it and runs the whole pipeline there:
no network, no cloud account. Otherwise it reads the given bucket through the standard AWS
credential chain.

--pipeline-root s3://BUCKET/PREFIX keeps every artifact in S3 (tensorflow-io's filesystem for
TensorFlow, boto3 for Beam, both on the same endpoint); ML Metadata stays in local SQLite.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import time

from config import DEMO_CORPUS_DIR, LOCAL_OUTPUT_DIR, ConfigError, PipelineConfig
from pipeline import flags
from pipeline.console_logging import configure_logging


def build_parser() -> argparse.ArgumentParser:
    """The shared pipeline flags (pipeline/flags.py) plus this runner's own."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    flags.add_pipeline_flags(p)
    local = p.add_argument_group("local run")
    local.add_argument("--s3-endpoint", default=os.environ.get("AWS_ENDPOINT_URL"),
                       help="S3-compatible endpoint (MinIO, moto); default AWS_ENDPOINT_URL or real AWS")
    local.add_argument("--corpus-dir", default=DEMO_CORPUS_DIR,
                       help="local corpus uploaded to the embedded S3 endpoint")
    local.add_argument("--output-dir", default=LOCAL_OUTPUT_DIR,
                       help="ML Metadata, reports, and the pipeline root unless --pipeline-root")
    local.add_argument("--pipeline-root", default="",
                       help="artifact root: a directory or s3://BUCKET/PREFIX (on the same endpoint as the clips; "
                            "created on the embedded one); default OUTPUT_DIR/pipeline_root")
    local.add_argument("--no-cache", action="store_true", help="re-run every component")
    local.add_argument("--verbose", action="store_true", help="every INFO line of TFX, Beam and TensorFlow")
    local.add_argument("--quiet", action="store_true", help="warnings and the final summary only")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    """The flags, plus `args.config`: the PipelineConfig they stand for (validated here)."""
    p = build_parser()
    args = p.parse_args(argv)
    try:
        config = flags.config_from_flags(args, os.environ)
        serving = config.push.serving_model_dir
        args.config = config.override(
            push={"serving_model_dir": serving if serving.startswith("s3://") else os.path.abspath(serving)},
            runtime={"pipeline_root": args.pipeline_root or os.path.join(os.path.abspath(args.output_dir),
                                                                         "pipeline_root"),
                     "enable_cache": not args.no_cache})
    except ConfigError as err:
        p.error(str(err))
    return args


def build(config: PipelineConfig, output_dir: str, metadata_name: str = "metadata.sqlite"):
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        os.path.join(os.path.abspath(output_dir), metadata_name))
    return create_pipeline(config, metadata_connection_config=metadata)


def run(args) -> dict:
    """Run the pipeline once; return the run summary (also printed)."""
    from pipeline.run_lock import exclusive_output_dir, fail_interrupted_executions
    from pipeline.run_report import add_to_summary_file, run_names, summarise_run
    from storage import s3
    from storage.corpus import corpus_fingerprint, upload_corpus
    from storage.embedded_s3 import embedded_s3
    from storage.tf_s3 import enable_s3_filesystem, is_s3, split_s3_uri

    config: PipelineConfig = args.config
    embedded = not args.s3_endpoint and not args.bucket
    bucket, prefix, languages = config.data.bucket, config.data.prefix, list(config.data.languages)
    s3_outputs = [path for path in (config.runtime.pipeline_root, config.push.serving_model_dir) if is_s3(path)]
    with contextlib.ExitStack() as stack:
        # First, before any work: a second run on this output dir stops here.
        stack.enter_context(exclusive_output_dir(os.path.abspath(args.output_dir)))
        endpoint = args.s3_endpoint
        if embedded:
            # Artifacts on S3 are written by tensorflow-io, partly while holding the GIL: the
            # server must then live in another process.
            endpoint = stack.enter_context(embedded_s3(in_process=not s3_outputs))
            # The component's `s3_endpoint` stays empty so the cache key does not depend on the
            # free port; the workers find the endpoint in the environment, like any AWS setting.
            os.environ["AWS_ENDPOINT_URL"] = endpoint
            client = s3.make_client(endpoint)
            counts = upload_corpus(client, bucket, args.corpus_dir, prefix, languages=languages)
            print(f"embedded S3 at {endpoint}: s3://{bucket}/{prefix} "
                  f"({counts['uploaded']} clips uploaded from {args.corpus_dir})", flush=True)
        client = s3.make_client(endpoint)
        fingerprint = corpus_fingerprint(client, bucket, prefix)
        metadata_name = "metadata.sqlite"
        if s3_outputs:
            enable_s3_filesystem(endpoint)
        if s3_outputs and embedded:
            for path in s3_outputs:
                s3.ensure_bucket(client, split_s3_uri(path)[0])
            # Artifacts on the embedded endpoint end with this run, so its ML Metadata must too:
            # a kept store would offer cached artifacts (and a baseline model) that are gone.
            metadata_name = "metadata-embedded-s3.sqlite"
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(os.path.abspath(args.output_dir), metadata_name))
        config = config.override(data={"s3_endpoint": "" if embedded else (endpoint or ""),
                                       "corpus_fingerprint": fingerprint})
        pipeline = build(config, args.output_dir, metadata_name)
        from tfx import v1 as tfx

        for stale in fail_interrupted_executions(pipeline.metadata_connection_config, config.runtime.pipeline_root):
            logging.warning("marked FAILED and removed the partial outputs of %s, left RUNNING by a stopped run", stale)
        before = run_names(pipeline.metadata_connection_config)
        started = time.time()
        halted = None
        try:
            tfx.orchestration.LocalDagRunner().run(pipeline)
        except Exception as err:  # noqa: BLE001 - only AnomalyGate's stop is expected; the rest re-raise
            halted = halt_message(err)
            if halted is None:
                raise
        this_run = sorted(run_names(pipeline.metadata_connection_config) - before)[-1]
        summary = summarise_run(pipeline, os.path.abspath(args.output_dir), time.time() - started, run_name=this_run,
                                languages=languages, sample_rate=config.data.sample_rate,
                                augment_config=dict(config.augmenter.policy))
        if halted:
            summary["halted"] = halted
            add_to_summary_file(os.path.abspath(args.output_dir), halted=halted)
            print(halted, file=sys.stderr)
        elif summary.get("pushed_to"):
            from pipeline.model_card import write_model_card
            summary["model_card"] = write_model_card(pipeline, summary, os.path.abspath(args.output_dir),
                                                     languages=languages)
            print(f"model card: {summary['model_card']['md']} and .html (a copy in the pushed model's assets.extra/)")
            add_to_summary_file(os.path.abspath(args.output_dir), model_card=summary["model_card"])
    return summary


def halt_message(err: BaseException) -> str | None:
    """AnomalyGate's message when `err` (or what caused it) is its stop, else None."""
    from components.data_validator.executor import AnomaliesFound

    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, AnomaliesFound):
            return str(err)
        err = err.__cause__ or err.__context__
    return None


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_logging(verbose=args.verbose, quiet=args.quiet)
    summary = run(args)
    return 1 if summary.get("halted") else 0


def uses_s3_outputs(argv=None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    if {"-h", "--help"} & set(argv):
        return False
    config = parse_args(argv).config
    return any(str(path).startswith("s3://") for path in (config.runtime.pipeline_root, config.push.serving_model_dir))


if __name__ == "__main__":
    if uses_s3_outputs():
        # tensorflow-io's S3 client aborts in C++ teardown after a successful run: exit with
        # the run's own status instead.
        from storage.tf_s3 import run_then_exit

        run_then_exit(main)
    sys.exit(main())
