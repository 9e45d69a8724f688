"""Audio files for the serving tests: unseen-speaker clips of the tiny corpus's languages."""
from __future__ import annotations

import json

import numpy as np
import soundfile

from serving import cli
from serving.audio_input import wav_bytes  # noqa: F401  (re-exported for the tests)
from tests.helpers.synthetic_corpus import synth_clip

RATE = 16000


def clip(language: str, seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """A clip of `language` by speaker 7, whom the tiny corpus never had."""
    return synth_clip(language, 7, seconds, rate, np.random.default_rng(seed))


def write(path, samples: np.ndarray, rate: int, **kwargs) -> str:
    soundfile.write(str(path), samples, rate, **kwargs)
    return str(path)


def run_cli(capsys, argv: list[str]) -> tuple[int, list[dict], list[str]]:
    """`python -m serving ARGV` in this process: exit status, JSON lines, error lines."""
    status = cli.main(argv)
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    return status, [json.loads(line) for line in captured.out.splitlines()], errors
