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

from pipeline import cli_options, configs


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s3 = p.add_argument_group("data")
    s3.add_argument("--bucket", default=None,
                    help="S3 bucket holding {Language}/{file}.mp3; none (and no endpoint): the embedded demo "
                         f"bucket '{configs.BUCKET}' on 127.0.0.1")
    s3.add_argument("--prefix", default=configs.PREFIX, help="key prefix inside the bucket, e.g. 'clips/'")
    s3.add_argument("--s3-endpoint", default=os.environ.get("AWS_ENDPOINT_URL"),
                    help="S3-compatible endpoint (MinIO, moto); default AWS_ENDPOINT_URL or real AWS")
    s3.add_argument("--languages", default=",".join(configs.LANGUAGES),
                    help="comma-separated folder names; their order fixes the label ids")
    s3.add_argument("--corpus-dir", default=configs.DEMO_CORPUS_DIR,
                    help="local corpus uploaded to the embedded S3 endpoint")
    out = p.add_argument_group("outputs")
    out.add_argument("--output-dir", default=configs.DEFAULT_OUTPUT_DIR,
                     help="ML Metadata, reports, and the pipeline root unless --pipeline-root")
    out.add_argument("--pipeline-root", default="",
                     help="artifact root: a directory or s3://BUCKET/PREFIX (on the same endpoint as the clips; "
                          "created on the embedded one); default OUTPUT_DIR/pipeline_root")
    out.add_argument("--serving-dir", default=os.path.join("serving_model", configs.SERVING_MODEL_NAME),
                     help="where Pusher writes versioned SavedModels (TF Serving layout); may be s3://...")
    out.add_argument("--no-cache", action="store_true", help="re-run every component")
    train = p.add_argument_group("training")
    train.add_argument("--train-steps", type=int, default=configs.TRAIN_STEPS, help="optimizer steps")
    train.add_argument("--eval-steps", type=int, default=configs.EVAL_STEPS,
                       help="eval batches per epoch for the validation curve (TFMA evaluates all)")
    train.add_argument("--epochs", type=int, default=configs.EPOCHS, help="the train steps are split into this many epochs")
    train.add_argument("--augment-copies", type=int, default=configs.AUGMENT_COPIES,
                       help="augmented copies per train segment (0: no augmentation)")
    train.add_argument("--segment-seconds", type=float, default=configs.SEGMENT_SECONDS,
                       help="window length; windows overlap by half")
    train.add_argument("--eval-fraction", type=float, default=configs.EVAL_FRACTION,
                       help="fraction of each language's speakers held out for evaluation")
    train.add_argument("--accuracy-bound", type=float, default=configs.ACCURACY_LOWER_BOUND,
                       help="eval accuracy the model must exceed to be blessed")
    p.add_argument("--halt-on-anomalies", action="store_true",
                   help="stop before Transform when data validation finds errors (default: warn and go on)")
    p.add_argument("--beam-runner", default=configs.BEAM_RUNNER, choices=configs.BEAM_RUNNERS,
                   help="Beam runner of ingestion, augmentation, Transform and Evaluator")
    cli_options.add_augmentation_and_feature_args(p)
    p.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                   help="Beam pipeline argument, repeatable, e.g. --beam-arg=--direct_num_workers=2")
    p.add_argument("--verbose", action="store_true", help="every INFO line of TFX, Beam and TensorFlow")
    p.add_argument("--quiet", action="store_true", help="warnings and the final summary only")
    return p.parse_args(argv)


class _ProgressFilter(logging.Filter):
    """Without --verbose: warnings, component start/finish, and this project's own messages."""

    OWN = ("components", "pipeline", "models", "storage", "audio")
    # On an s3:// root TFX warns (with a page of execution info) that its empty scratch
    # folders are gone: S3 has no empty folders. Nothing is wrong.
    S3_FOLDER_NOISE = ("is not found, not going to delete it", "is not found, it is likely that it has been deleted")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            return not (record.levelno == logging.WARNING and any(s in message for s in self.S3_FOLDER_NOISE))
        return (message.startswith("Component ") and message.endswith(("is running.", "is finished."))) \
            or record.name.split(".")[0] in self.OWN


def configure_logging(args) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1" if args.verbose else "2")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    if not args.verbose:
        handler.addFilter(_ProgressFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING if args.quiet else logging.INFO)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.WARNING if args.quiet else absl_logging.INFO)
    absl_logging.use_python_logging()


def pipeline_root(args) -> str:
    return args.pipeline_root or os.path.join(os.path.abspath(args.output_dir), "pipeline_root")


def serving_dir(args) -> str:
    return args.serving_dir if args.serving_dir.startswith("s3://") else os.path.abspath(args.serving_dir)


def build(args, endpoint: str | None, bucket: str, fingerprint: str, metadata_name: str = "metadata.sqlite"):
    from tfx import v1 as tfx

    from pipeline.pipeline import create_pipeline

    root = os.path.abspath(args.output_dir)
    return create_pipeline(
        configs.PIPELINE_NAME, pipeline_root(args),
        bucket=bucket, prefix=args.prefix, languages=configs.parse_languages(args.languages),
        s3_endpoint=endpoint, corpus_fingerprint=fingerprint, segment_seconds=args.segment_seconds,
        eval_fraction=args.eval_fraction, augment_copies=args.augment_copies,
        train_steps=args.train_steps, eval_steps=args.eval_steps, epochs=args.epochs,
        accuracy_lower_bound=args.accuracy_bound, serving_model_dir=serving_dir(args),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            os.path.join(root, metadata_name)),
        beam_pipeline_args=configs.beam_pipeline_args(args.beam_runner, args.beam_arg, configs.LOCAL_DIRECT_ARGS,
                                                      pipeline_root(args)),
        enable_cache=not args.no_cache, halt_on_anomalies=args.halt_on_anomalies,
        **cli_options.pipeline_kwargs(args))


def run(args) -> dict:
    """Run the pipeline once; return the run summary (also printed)."""
    from storage import s3
    from storage.corpus import corpus_fingerprint, upload_corpus
    from storage.embedded_s3 import embedded_s3
    from storage.tf_s3 import enable_s3_filesystem, is_s3, split_s3_uri
    from pipeline.run_report import add_to_summary_file, summarise_run

    embedded = not args.s3_endpoint and not args.bucket
    bucket = args.bucket or configs.BUCKET
    s3_outputs = [path for path in (pipeline_root(args), args.serving_dir) if is_s3(path)]
    with contextlib.ExitStack() as stack:
        endpoint = args.s3_endpoint
        if embedded:
            # Artifacts on S3 are written by tensorflow-io, partly while holding the GIL: the
            # server must then live in another process.
            endpoint = stack.enter_context(embedded_s3(in_process=not s3_outputs))
            # The component's `s3_endpoint` stays empty so the cache key does not depend on the
            # free port; the workers find the endpoint in the environment, like any AWS setting.
            os.environ["AWS_ENDPOINT_URL"] = endpoint
            client = s3.make_client(endpoint)
            counts = upload_corpus(client, bucket, args.corpus_dir, args.prefix,
                                   languages=configs.parse_languages(args.languages))
            print(f"embedded S3 at {endpoint}: s3://{bucket}/{args.prefix} "
                  f"({counts['uploaded']} clips uploaded from {args.corpus_dir})", flush=True)
        client = s3.make_client(endpoint)
        fingerprint = corpus_fingerprint(client, bucket, args.prefix)
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
        pipeline = build(args, None if embedded else endpoint, bucket, fingerprint, metadata_name)
        from tfx import v1 as tfx

        started = time.time()
        halted = None
        try:
            tfx.orchestration.LocalDagRunner().run(pipeline)
        except Exception as err:  # noqa: BLE001 - only AnomalyGate's stop is expected; the rest re-raise
            halted = halt_message(err)
            if halted is None:
                raise
        summary = summarise_run(pipeline, os.path.abspath(args.output_dir), time.time() - started,
                                languages=configs.parse_languages(args.languages), sample_rate=configs.SAMPLE_RATE,
                                augment_config=cli_options.augmentation_policy(args))
        if halted:
            summary["halted"] = halted
            add_to_summary_file(os.path.abspath(args.output_dir), halted=halted)
            print(halted, file=sys.stderr)
        elif summary.get("pushed_to"):
            from pipeline.model_card import write_model_card
            summary["model_card"] = write_model_card(pipeline, summary, os.path.abspath(args.output_dir),
                                                     languages=configs.parse_languages(args.languages))
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
    configure_logging(args)
    summary = run(args)
    return 1 if summary.get("halted") else 0


def uses_s3_outputs(argv=None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    if {"-h", "--help"} & set(argv):
        return False
    args = parse_args(argv)
    return any(str(path).startswith("s3://") for path in (args.pipeline_root, args.serving_dir))


if __name__ == "__main__":
    if uses_s3_outputs():
        # tensorflow-io's S3 client aborts in C++ teardown after a successful run: exit with
        # the run's own status instead.
        from storage.tf_s3 import run_then_exit

        run_then_exit(main)
    sys.exit(main())
