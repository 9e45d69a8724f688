"""The tiny end-to-end pipeline run the e2e and serving tests share (see conftest's pipeline_run)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from config import CNN_REPRESENTATIONS, WHISPER_REPRESENTATIONS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

PIPELINE_LANGUAGES = ["English", "French", "German"]


def pipeline_argv(corpus_dir: str, out, representations=CNN_REPRESENTATIONS) -> list[str]:
    """local_runner flags of the tiny end-to-end run: 1.5 s windows, a few seconds of training;
    the CNN unless told (no encoder, so it runs in seconds)."""
    return ["--representations", ",".join(representations),
            "--corpus-dir", corpus_dir, "--languages", ",".join(PIPELINE_LANGUAGES),
            "--output-dir", str(out / "tfx"), "--serving-dir", str(out / "serving"),
            "--train-steps", "150", "--epochs", "3", "--eval-steps", "2", "--augment-copies", "1",
            "--segment-seconds", "1.5", "--eval-fraction", "0.25", "--accuracy-bound", "0.5", "--quiet"]


def run_local_pipeline(argv: list[str]) -> dict:
    """local_runner.run on the embedded S3 endpoint, as a new user gets it."""
    import local_runner

    saved = os.environ.pop("AWS_ENDPOINT_URL", None)
    try:
        return local_runner.run(local_runner.parse_args(argv))
    finally:
        if saved is not None:
            os.environ["AWS_ENDPOINT_URL"] = saved


def whisper_pipeline_argv(corpus_dir: str, out) -> list[str]:
    """The tiny run's flags on the `whisper` representation alone: Whisper-base's pooled encoder
    states into the head, plus its zero-shot term (the default weight)."""
    return pipeline_argv(corpus_dir, out, representations=WHISPER_REPRESENTATIONS)


def run_local_pipeline_in_subprocess(argv: list[str], timeout_s: float = 1800) -> dict:
    """`python local_runner.py ARGV` in its own process, as a user starts it; the run summary it
    wrote under ARGV's --output-dir, in reports/. Whisper's Transform peaks near 10 GB, most of
    which an in-process run would keep from the tests after it."""
    output_dir = argv[argv.index("--output-dir") + 1]
    env = {k: v for k, v in os.environ.items() if k != "AWS_ENDPOINT_URL"}
    done = subprocess.run([sys.executable, os.path.join(ROOT, "local_runner.py"), *argv], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout_s)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    with open(os.path.join(output_dir, "reports", "run_summary.json"), encoding="utf-8") as f:
        return json.load(f)
