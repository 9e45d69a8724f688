"""Whisper encoder benchmark: what one 3 s window costs in TensorFlow, beside CTranslate2.

Times, in one process on the same windows (the first 3 s of demo clips, batches of 16) and
the same thread count: the TF path that a preprocessing_fn would run (models/whisper log-mel
+ encoder, one tf.function), and the reference CTranslate2 path (faster-whisper's NumPy
log-mel + `Whisper.encode` on the same 300 frames, no 30 s padding). Prints medians in ms
per window and the ratio TF / CTranslate2. Needs the test requirements (ctranslate2,
faster-whisper) and the installed weights.

    python -m bench.whisper_encoder [--batch 16] [--batches 6] [--repeats 5] [--threads 2]
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SR = 16_000


def demo_windows(count: int, seconds: float = 3.0) -> np.ndarray:
    """The first `seconds` of `count` demo clips (zero-padded), across all six languages."""
    from audio.decode import decode_audio
    paths = sorted(glob.glob(os.path.join(REPO, "data", "demo", "*", "*.mp3")))
    step = max(1, len(paths) // count)
    n = int(seconds * SR)
    out = []
    for path in paths[::step][:count]:
        with open(path, "rb") as f:
            wav = decode_audio(f.read(), SR)[:n]
        out.append(np.pad(wav, (0, n - len(wav))))
    return np.stack(out).astype(np.float32)


def _median_ms_per_window(fns: dict, batches: list[np.ndarray], repeats: int) -> dict[str, float]:
    """Median ms per window of each fn; repeats alternate between them, so a change in the
    machine's load (the CPUs are shared) falls on both sides of the ratio alike."""
    for fn in fns.values():
        fn(batches[0])  # warm-up: tracing, first-call graph optimisation, CT2 weight packing
    times = {name: [] for name in fns}
    windows = sum(len(b) for b in batches)
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for b in batches:
                fn(b)
            times[name].append((time.perf_counter() - t0) * 1000 / windows)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--batches", type=int, default=6)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=3.0, help="window length (1-3 s)")
    args = p.parse_args(argv)

    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import ctranslate2
    from faster_whisper.feature_extractor import FeatureExtractor

    from models.whisper import encoder, weights

    windows = demo_windows(args.batch * args.batches, args.seconds)
    batches = [windows[i:i + args.batch] for i in range(0, len(windows), args.batch)]
    w = weights.load()
    tf_encode = encoder.make_window_encoder(w, windows.shape[1])
    reference = ctranslate2.models.Whisper(weights.default_dir(), device="cpu", intra_threads=args.threads)
    fe = FeatureExtractor()

    def ct2_encode(batch):
        feats = np.stack([fe(x)[..., :-1] for x in batch]).astype(np.float32)
        return reference.encode(ctranslate2.StorageView.from_array(feats))

    def tf_run(batch):
        return tf_encode(batch).numpy()

    ms = _median_ms_per_window({"tf": tf_run, "ct2": ct2_encode}, batches, args.repeats)
    tf_ms, ct2_ms = ms["tf"], ms["ct2"]
    print(f"whisper-base log-mel + encoder, {args.seconds:g} s windows, batch {args.batch}, "
          f"{len(windows)} windows x {args.repeats} repeats, {args.threads} threads")
    for label, ms in (("TensorFlow (models/whisper)", tf_ms), ("CTranslate2 (faster-whisper log-mel)", ct2_ms)):
        print(f"  {label:37s}{ms:7.1f} ms/window  {1000 * args.seconds / ms:6.1f}x real time")
    print(f"  ratio TF / CTranslate2: {tf_ms / ct2_ms:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
