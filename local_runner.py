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
from operations.console_logging import configure_logging
from pipeline import flags


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
        flags.check_encoder_weights(args.config)   # before any component runs (exit status 2)
    except ConfigError as err:
        p.error(str(err))
    return args


def build(config: PipelineConfig, output_dir: str, metadata_name: str = "metadata.sqlite"):
    """create_pipeline with its ML Metadata in OUTPUT_DIR/metadata_name (SQLite)."""
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        os.path.join(os.path.abspath(output_dir), metadata_name))
    return create_pipeline(config, metadata_connection_config=metadata)


def run(args) -> dict:
    """Run the pipeline once; return the run summary (also printed)."""
    from operations.run_lock import exclusive_output_dir
    from storage import s3
    from storage.corpus import corpus_fingerprint

    config: PipelineConfig = args.config
    output_dir = os.path.abspath(args.output_dir)
    embedded = not args.s3_endpoint and not args.bucket
    with contextlib.ExitStack() as stack:
        # First, before any work: a second run on this output dir stops here.
        stack.enter_context(exclusive_output_dir(output_dir))
        endpoint = serve_corpus_on_embedded_s3(stack, config, args.corpus_dir) if embedded else args.s3_endpoint
        fingerprint = corpus_fingerprint(s3.make_client(endpoint), config.data.bucket, config.data.prefix)
        metadata_name = prepare_s3_outputs(config, endpoint, embedded, output_dir)
        config = config.override(data={"s3_endpoint": "" if embedded else (endpoint or ""),
                                       "corpus_fingerprint": fingerprint})
        pipeline = build(config, output_dir, metadata_name)
        clean_up_interrupted_runs(pipeline, config)
        run_name, seconds, halted = execute(pipeline)
        summary = summarise(pipeline, config, output_dir, run_name, seconds)
        record_outcome(pipeline, config, output_dir, summary, halted)
    return summary


def s3_outputs(config: PipelineConfig) -> list[str]:
    """The run's outputs that tensorflow-io writes to S3: the artifact root, the pushed model."""
    return [path for path in (config.runtime.pipeline_root, config.push.serving_model_dir)
            if str(path).startswith("s3://")]


def serve_corpus_on_embedded_s3(stack: contextlib.ExitStack, config: PipelineConfig, corpus_dir: str) -> str:
    """Start an S3 server for this run (stopped with `stack`), upload the corpus; return its endpoint."""
    from storage import s3
    from storage.corpus import upload_corpus
    from storage.embedded_s3 import embedded_s3

    # Artifacts on S3 are written by tensorflow-io, partly while holding the GIL: the
    # server must then live in another process.
    endpoint = stack.enter_context(embedded_s3(in_process=not s3_outputs(config)))
    # The component's `s3_endpoint` stays empty so the cache key does not depend on the
    # free port; the workers find the endpoint in the environment, like any AWS setting.
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    bucket, prefix = config.data.bucket, config.data.prefix
    counts = upload_corpus(s3.make_client(endpoint), bucket, corpus_dir, prefix, languages=list(config.data.languages))
    print(f"embedded S3 at {endpoint}: s3://{bucket}/{prefix} "
          f"({counts['uploaded']} clips uploaded from {corpus_dir})", flush=True)
    return endpoint


def prepare_s3_outputs(config: PipelineConfig, endpoint: str | None, embedded: bool, output_dir: str) -> str:
    """Make s3:// outputs writable (tensorflow-io's filesystem, buckets on the embedded server);
    return the ML Metadata file this run uses."""
    from storage import s3
    from storage.tf_s3 import enable_s3_filesystem, split_s3_uri

    outputs = s3_outputs(config)
    if outputs:
        enable_s3_filesystem(endpoint)
    if not (outputs and embedded):
        return "metadata.sqlite"
    client = s3.make_client(endpoint)
    for path in outputs:
        s3.ensure_bucket(client, split_s3_uri(path)[0])
    # Artifacts on the embedded endpoint end with this run, so its ML Metadata must too:
    # a kept store would offer cached artifacts (and a baseline model) that are gone.
    metadata_name = "metadata-embedded-s3.sqlite"
    with contextlib.suppress(FileNotFoundError):
        os.remove(os.path.join(output_dir, metadata_name))
    return metadata_name


def clean_up_interrupted_runs(pipeline, config: PipelineConfig) -> None:
    """Executions a stopped run left RUNNING: marked FAILED, their partial outputs removed."""
    from operations.run_lock import fail_interrupted_executions

    for stale in fail_interrupted_executions(pipeline.metadata_connection_config, config.runtime.pipeline_root):
        logging.warning("marked FAILED and removed the partial outputs of %s, left RUNNING by a stopped run", stale)


def execute(pipeline) -> tuple[str, float, str | None]:
    """Run the pipeline with LocalDagRunner: (this run's name, seconds, AnomalyGate's message or None)."""
    from tfx import v1 as tfx

    from reports.runs import run_names

    before = run_names(pipeline.metadata_connection_config)
    started = time.time()
    halted = None
    try:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as err:  # noqa: BLE001 - only AnomalyGate's stop is expected; the rest re-raise
        halted = halt_message(err)
        if halted is None:
            raise
    seconds = time.time() - started
    return sorted(run_names(pipeline.metadata_connection_config) - before)[-1], seconds, halted


def summarise(pipeline, config: PipelineConfig, output_dir: str, run_name: str, seconds: float) -> dict:
    """The run summary from ML Metadata and the artifacts (printed, and written under reports/)."""
    from reports.run_report import summarise_run

    return summarise_run(pipeline, output_dir, seconds, run_name=run_name, languages=list(config.data.languages),
                         sample_rate=config.data.sample_rate, augment_config=dict(config.augmenter.policy))


def record_outcome(pipeline, config: PipelineConfig, output_dir: str, summary: dict, halted: str | None) -> None:
    """A halted run: its reason, in the summary and on stderr; a pushed model: its model card."""
    from reports.run_report import add_to_summary_file

    if halted:
        summary["halted"] = halted
        add_to_summary_file(output_dir, halted=halted)
        print(halted, file=sys.stderr)
    elif summary.get("pushed_to"):
        from reports.model_card import write_model_card
        summary["model_card"] = write_model_card(pipeline, summary, output_dir, languages=list(config.data.languages))
        print(f"model card: {summary['model_card']['md']} and .html (a copy in the pushed model's assets.extra/)")
        add_to_summary_file(output_dir, model_card=summary["model_card"])


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
    """The command line: exit status 1 when --halt-on-anomalies stopped the run."""
    return run_command(parse_args(argv))


def run_command(args) -> int:
    """Logging as the flags ask, one run; the exit status."""
    configure_logging(verbose=args.verbose, quiet=args.quiet)
    summary = run(args)
    return 1 if summary.get("halted") else 0


if __name__ == "__main__":
    parsed = parse_args()
    if s3_outputs(parsed.config):
        # tensorflow-io's S3 client aborts in C++ teardown after a successful run: exit with
        # the run's own status instead.
        from storage.tf_s3 import run_then_exit

        run_then_exit(lambda: run_command(parsed))
    sys.exit(run_command(parsed))
