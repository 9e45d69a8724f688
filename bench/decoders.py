"""Decoder benchmark: which MP3 decode + 16 kHz resample path should ingestion use?

Encodes a 48 kHz stereo MP3 (the audio-lingua norm) of synthetic speech-like sound, then
times, side by side in one process, each candidate turning its bytes into 16 kHz mono
float32: the ingestion path (libsndfile via soundfile + soxr) and tensorflow-io's
decode_mp3 + resample. Prints medians in "x real time" and the ratio.

    python -m bench.decoders [--seconds 48] [--repeats 7]
"""
from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np
import soundfile

from audio.decode import decode_audio

TARGET_RATE = 16000


def make_mp3(seconds: float, rate: int = 48000) -> bytes:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 30 * np.sin(2 * np.pi * 0.7 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(f0) / rate) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3.5 * t) ** 2
    mono = 0.3 * envelope * voiced / 3 + 0.01 * rng.standard_normal(len(t))
    stereo = np.stack([mono, 0.9 * mono], axis=1).astype(np.float32)
    buf = io.BytesIO()
    soundfile.write(buf, stereo, rate, format="MP3", subtype="MPEG_LAYER_III")
    return buf.getvalue()


def soundfile_soxr(data: bytes) -> np.ndarray:
    return decode_audio(data, TARGET_RATE)


def tensorflow_io(data: bytes) -> np.ndarray:
    import tensorflow as tf
    import tensorflow_io as tfio

    decoded = tfio.audio.decode_mp3(tf.constant(data))           # [samples, channels] float32
    mono = tf.reduce_mean(decoded, axis=1)
    return tfio.audio.resample(mono, 48000, TARGET_RATE).numpy()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=48.0)
    p.add_argument("--repeats", type=int, default=7)
    args = p.parse_args(argv)
    data = make_mp3(args.seconds)
    candidates = {"soundfile + soxr (used)": soundfile_soxr, "tensorflow-io decode_mp3 + resample": tensorflow_io}
    results = {}
    for name, fn in candidates.items():
        out = fn(data)  # warm-up, and a sanity check of the output
        assert abs(len(out) / TARGET_RATE - args.seconds) < 0.2, (name, len(out))
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            fn(data)
            times.append(time.perf_counter() - start)
        results[name] = args.seconds / statistics.median(times)
    print(f"{args.seconds:.0f} s of 48 kHz stereo MP3 -> 16 kHz mono, median of {args.repeats}")
    for name, speed in results.items():
        print(f"  {name:40s} {speed:8.0f} x real time")
    used, other = results.values()
    print(f"  ratio soundfile+soxr / tensorflow-io: {used / other:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
