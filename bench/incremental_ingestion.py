"""Ingestion wall time of a new scrape: incremental (1 new clip per language) vs from scratch.

Uploads the demo corpus without the last clip (by key) of each language into an embedded S3
server, ingests it (span 0), uploads the held-back clips, then ingests the final bucket twice:
building on span 0 (only the new clips are fetched) and from scratch. S3AudioExampleGen's
executor with the default DataConfig, in-memory DirectRunner with one worker as local_runner
runs it. Prints both times and their ratio.

    python -m bench.incremental_ingestion
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time

from config import DEMO_CORPUS_DIR, LOCAL_DIRECT_ARGS, PipelineConfig


def ingest(bucket: str, prefix: str, out_dir: str, previous=None):
    """Run the executor once; (artifact, seconds, report)."""
    from tfx.types import standard_artifacts

    from components.s3_audio_example_gen.component import exec_properties
    from components.s3_audio_example_gen.executor import PREVIOUS_EXAMPLES_KEY, Executor
    from components.s3_audio_example_gen.report import REPORT_NAME

    examples = standard_artifacts.Examples()
    examples.uri = out_dir
    config = PipelineConfig()
    data = config.data
    props = exec_properties(dataclasses.replace(data, bucket=bucket, prefix=prefix, s3_endpoint="",
                                                corpus_fingerprint=""),
                            compression=config.runtime.intermediate_compression)
    started = time.time()
    executor = Executor(Executor.Context(beam_pipeline_args=list(LOCAL_DIRECT_ARGS), tmp_dir=out_dir + "_tmp"))
    executor.Do({PREVIOUS_EXAMPLES_KEY: [previous]} if previous else {}, {"examples": [examples]}, props)
    seconds = time.time() - started
    with open(os.path.join(out_dir, REPORT_NAME)) as f:
        return examples, seconds, json.load(f)


def upload(client, bucket: str, corpus_dir: str, rows: list[dict], prefix: str) -> None:
    from storage import s3

    for row in rows:
        with open(os.path.join(corpus_dir, row["key"]), "rb") as f:
            s3.put_bytes(client, bucket, prefix + row["key"], f.read(), "audio/mpeg")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus-dir", default=DEMO_CORPUS_DIR)
    args = p.parse_args(argv)
    from storage import s3
    from storage.embedded_s3 import embedded_s3

    with open(os.path.join(args.corpus_dir, s3.MANIFEST_NAME), "rb") as f:
        rows = sorted(s3.decode_manifest(f.read()), key=lambda r: r["key"])
    last_of = {row["language"]: row["key"] for row in rows}
    held_back = [row for row in rows if row["key"] in set(last_of.values())]
    bucket, prefix = "incremental-bench", "demo/"
    with embedded_s3() as endpoint, tempfile.TemporaryDirectory() as tmp:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        client = s3.make_client(endpoint)
        s3.ensure_bucket(client, bucket)
        upload(client, bucket, args.corpus_dir, [r for r in rows if r not in held_back], prefix)
        s3.write_manifest(client, bucket, [{**r, "key": prefix + r["key"]} for r in rows], prefix)
        first, first_s, _ = ingest(bucket, prefix, os.path.join(tmp, "span0"))
        upload(client, bucket, args.corpus_dir, held_back, prefix)
        _, incremental_s, report = ingest(bucket, prefix, os.path.join(tmp, "span1"), previous=first)
        _, scratch_s, scratch = ingest(bucket, prefix, os.path.join(tmp, "scratch"))
    print(f"first ingestion ({report['clips_carried_over']} clips): {first_s:.1f} s")
    print(f"incremental (+{report['clips_ingested']} clips, {report['clips_total']} in total): {incremental_s:.1f} s")
    print(f"from scratch ({scratch['clips_total']} clips): {scratch_s:.1f} s")
    print(f"incremental / from scratch: {incremental_s / scratch_s:.2f}")


if __name__ == "__main__":
    main()
