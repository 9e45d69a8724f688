"""Peak RSS of ingestion alone at two corpus sizes: does it grow with the corpus?

Uploads the demo corpus --small and --large times (each copy under new keys, same speakers)
into an embedded S3 server running in its own process, then runs S3AudioExampleGen's
executor (in-memory DirectRunner, one worker, as local_runner does) in a fresh child process
per size and reads the child's peak RSS (ru_maxrss). Prints both and their ratio.

    python -m bench.ingestion_rss [--small 1] [--large 4]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from config import DEMO_CORPUS_DIR, LOCAL_DIRECT_ARGS, PipelineConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def upload_copies(client, bucket: str, corpus_dir: str, copies: int, prefix: str) -> int:
    from storage import s3

    s3.ensure_bucket(client, bucket)
    with open(os.path.join(corpus_dir, s3.MANIFEST_NAME), "rb") as f:
        rows = s3.decode_manifest(f.read())
    out = []
    for row in rows:
        with open(os.path.join(corpus_dir, row["key"]), "rb") as f:
            body = f.read()
        stem, ext = os.path.splitext(row["key"])
        for n in range(copies):
            key = f"{prefix}{stem}-copy{n}{ext}"
            s3.put_bytes(client, bucket, key, body, "audio/mpeg")
            out.append({**row, "key": key})
    s3.write_manifest(client, bucket, out, prefix)
    return len(out)


def ingest_once(bucket: str, prefix: str, out_dir: str) -> None:
    """Child process: run the executor once, print peak RSS (MB) and seconds as JSON."""
    from tfx.types import standard_artifacts

    from components.s3_audio_example_gen.component import exec_properties
    from components.s3_audio_example_gen.executor import Executor

    examples = standard_artifacts.Examples()
    examples.uri = out_dir
    data = PipelineConfig().data
    props = exec_properties(dataclasses.replace(data, bucket=bucket, prefix=prefix, s3_endpoint="",
                                                corpus_fingerprint=""),
                            compression=PipelineConfig().runtime.intermediate_compression)
    started = time.time()
    executor = Executor(Executor.Context(beam_pipeline_args=list(LOCAL_DIRECT_ARGS), tmp_dir=out_dir + "_tmp"))
    executor.Do({}, {"examples": [examples]}, props)
    with open(os.path.join(out_dir, "ingestion_report.json")) as f:
        report = json.load(f)
    clips = sum(e["clips"] for langs in report["per_split"].values() for e in langs.values())
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "seconds": round(time.time() - started, 1), "clips": clips}), flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", type=int, default=1, help="copies of the demo corpus in the small run")
    p.add_argument("--large", type=int, default=4, help="copies of the demo corpus in the large run")
    p.add_argument("--corpus-dir", default=DEMO_CORPUS_DIR)
    p.add_argument("--child", nargs=3, metavar=("BUCKET", "PREFIX", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        ingest_once(*args.child)
        return
    from storage import s3
    from storage.embedded_s3 import embedded_s3

    results = {}
    with embedded_s3(in_process=False) as endpoint, tempfile.TemporaryDirectory() as tmp:
        client = s3.make_client(endpoint)
        for label, copies in (("small", args.small), ("large", args.large)):
            prefix = f"{label}/"
            clips = upload_copies(client, "rss-bench", args.corpus_dir, copies, prefix)
            child = subprocess.run(
                [sys.executable, "-m", "bench.ingestion_rss", "--child", "rss-bench", prefix, os.path.join(tmp, label)],
                cwd=ROOT, env={**os.environ, "AWS_ENDPOINT_URL": endpoint, "PYTHONPATH": ROOT},
                capture_output=True, text=True, check=True)
            results[label] = {"copies": copies, "uploaded": clips, **json.loads(child.stdout.strip().splitlines()[-1])}
            print(label, results[label], flush=True)
    ratio = results["large"]["peak_rss_mb"] / results["small"]["peak_rss_mb"]
    clips_ratio = results["large"]["clips"] / results["small"]["clips"]
    print(f"peak RSS large/small: {ratio:.2f} for {clips_ratio:.1f}x the clips")


if __name__ == "__main__":
    main()
