"""The tiny end-to-end pipeline run the e2e and serving tests share (see conftest's pipeline_run)."""
from __future__ import annotations

import os

PIPELINE_LANGUAGES = ["English", "French", "German"]


def pipeline_argv(corpus_dir: str, out) -> list[str]:
    """local_runner flags of the tiny end-to-end run (1.5 s windows, a few seconds of training)."""
    return ["--corpus-dir", corpus_dir, "--languages", ",".join(PIPELINE_LANGUAGES),
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
    return pipeline_argv(corpus_dir, out) + ["--representations", "whisper"]
