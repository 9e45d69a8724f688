"""Peak memory of `python -m serving predict` on a long recording: streamed, it must not grow
with duration (target: under 1 GB for 2 hours).

Writes a recording of --hours (synthetic syllables with pauses, block by block, so this script
stays small too) as FLAC or MP3, runs the CLI on it in a child process and prints the child's
peak resident memory (ru_maxrss) with its ratio to the 1 GB target, and the wall time.

    python -m bench.serving_memory --model-dir serving_model/langid [--hours 2] [--format FLAC|MP3]
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile

from serving.settings import MODEL_NAME

TARGET_BYTES = 2**30
RATE = 16000


def write_long_recording(path: str, hours: float, fmt: str, seed: int = 0) -> None:
    """Pitch sweeps in syllable-length bursts with pauses, a minute at a time."""
    rng = np.random.default_rng(seed)
    minute = 60 * RATE
    with soundfile.SoundFile(path, "w", RATE, 1, format=fmt) as f:
        for _ in range(int(round(hours * 60))):
            out = np.zeros(minute, np.float32)
            start = 0
            while start < minute - RATE:
                n = int(rng.uniform(0.12, 0.3) * RATE)
                f0 = rng.uniform(150, 400)
                phase = 2 * np.pi * np.cumsum(np.linspace(f0, f0 * rng.uniform(0.7, 1.4), n)) / RATE
                out[start:start + n] = 0.4 * (np.sin(phase) + 0.3 * np.sin(3 * phase)) * np.hanning(n)
                start += n + int(rng.uniform(0.02, 0.4) * RATE)
            f.write(out + 0.003 * rng.standard_normal(minute).astype(np.float32))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model-dir", default=os.path.join("serving_model", MODEL_NAME))
    p.add_argument("--hours", type=float, default=2.0)
    p.add_argument("--format", choices=["FLAC", "MP3"], default="FLAC")
    p.add_argument("--keep", metavar="PATH", default=None, help="write the recording here and keep it")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or os.path.join(tmp, f"long.{args.format.lower()}")
        if not os.path.exists(path):
            started = time.perf_counter()
            write_long_recording(path, args.hours, args.format)
            print(f"wrote {path}: {os.path.getsize(path) / 2**20:.1f} MiB in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "serving", "predict", "--model-dir", args.model_dir, path],
                              capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024  # Linux: KiB
    print(done.stdout.strip()[:300] or done.stderr.strip()[-500:])
    print(f"{args.hours:g} h {args.format}: exit {done.returncode}, peak RSS {peak / 2**20:.0f} MiB "
          f"({peak / TARGET_BYTES:.2f} x the 1 GiB target), {wall:.0f} s wall, load average {os.getloadavg()[0]:.1f}")
    return done.returncode


if __name__ == "__main__":
    raise SystemExit(main())
