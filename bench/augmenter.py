"""Augmenter throughput: audio seconds per second of the AudioAugmenter's work, beside its limits.

On the same generated 3 s segments, in one run (best of --repeats, stages alternated):

    copy          the waveform copied in and peak-limited out: augment()'s fixed cost, no effect
    resample      one soxr HQ resample of each segment (what pitch_scale does): one real DSP op
    augment       audio.augment.augment, one copy per segment, at the pipeline's default policy
                  (config.AUGMENTATION_DEFAULT) and with every augmentation on (AUGMENTATION_ALL)
    executor      components.audio_augmenter.executor.augmented_copies: tf.Example parse, the
                  per-language policy, augment and serialise, at --copies copies (default policy)

and prints audio seconds per second (augmented audio produced per second, one process) and
each one's ratio to the resample limit, per wall-clock second and per CPU second of this
process (time.process_time: on a shared, loaded machine the CPU figure is the stable one;
every stage here is single-threaded). --profile N prints the top N lines of a
cProfile of augment() at both policies (sorted by own time).

    python -m bench.augmenter [--segments 200] [--repeats 3] [--copies 3] [--profile 15] [--json out.json]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import time

import numpy as np
import soxr

from audio.augment import AugmentationPolicy, augment, limit_peak, rng_for
from config import AUGMENTATION_ALL, AUGMENTATION_DEFAULT, AugmenterConfig

SAMPLE_RATE = 16000


def make_segments(count: int, seconds: float, sample_rate: int = SAMPLE_RATE, seed: int = 0) -> list[np.ndarray]:
    """Speech-like segments: harmonics of a gliding pitch (90-250 Hz) under a syllable-rate envelope,
    plus a little noise; different for every segment, the same for every run."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    segments = []
    for _ in range(count):
        f0 = rng.uniform(90, 250) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.3, 1.5) * t))
        phase = 2 * np.pi * np.cumsum(f0) / sample_rate
        voiced = sum(np.sin(k * phase) / k for k in range(1, 16))
        envelope = (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6))) ** 2
        w = voiced * envelope + 0.02 * rng.standard_normal(t.size)
        segments.append((0.8 * w / np.abs(w).max()).astype(np.float32))
    return segments


def _timed(run, segments) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to run over every segment."""
    wall, cpu = time.perf_counter(), time.process_time()
    for index, segment in enumerate(segments):
        run(index, segment)
    return time.perf_counter() - wall, time.process_time() - cpu


def _examples(segments) -> list[bytes]:
    from contract.codec import encode_segment

    return [encode_segment(w, label=0, language="English", speaker_id=f"spk{i}", source_key=f"English/bench{i}.mp3",
                           segment_index=0)
            for i, w in enumerate(segments)]


def stages(segments, copies: int) -> dict:
    """name -> (callable(index, segment), augmented seconds of audio it produces per segment)."""
    from components.audio_augmenter.executor import augmented_copies

    seconds = segments[0].shape[0] / SAMPLE_RATE
    default = AugmentationPolicy.from_dict(AUGMENTATION_DEFAULT)
    every = AugmentationPolicy.from_dict(AUGMENTATION_ALL)
    examples = _examples(segments)
    return {
        "copy": (lambda i, w: limit_peak(np.array(w, dtype=np.float64)), seconds),
        "resample": (lambda i, w: soxr.resample(w.astype(np.float64), SAMPLE_RATE * 1.06, SAMPLE_RATE,
                                                quality="HQ"), seconds),
        "augment default": (lambda i, w: augment(w, SAMPLE_RATE, rng_for(0, f"k{i}", 1), default.default), seconds),
        "augment all": (lambda i, w: augment(w, SAMPLE_RATE, rng_for(0, f"k{i}", 1), every.default), seconds),
        f"executor default x{copies}": (
            lambda i, w: sum(1 for _ in augmented_copies(examples[i], copies, 0, SAMPLE_RATE, default)),
            seconds * copies),
    }


def profile(segments, top: int) -> str:
    """cProfile (CPU time) of augment() over the segments, at the default policy and with everything on."""
    out = io.StringIO()
    for label, policy in (("default", AUGMENTATION_DEFAULT), ("all", AUGMENTATION_ALL)):
        config = AugmentationPolicy.from_dict(policy).default
        profiler = cProfile.Profile(time.process_time)   # CPU time: robust to other load
        profiler.enable()
        for i, w in enumerate(segments):
            augment(w, SAMPLE_RATE, rng_for(0, f"k{i}", 1), config)
        profiler.disable()
        out.write(f"--- augment() at the {label} policy, {len(segments)} segments\n")
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--segments", type=int, default=200)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--copies", type=int, default=AugmenterConfig().copies)
    p.add_argument("--profile", type=int, default=0, metavar="N", help="print the top N lines of a cProfile")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    if args.segments < 1 or args.repeats < 1 or args.copies < 1:
        p.error("--segments, --repeats and --copies must be >= 1")

    segments = make_segments(args.segments, args.seconds)
    if args.profile:
        print(profile(segments, args.profile))
    runs = stages(segments, args.copies)
    best_wall = {name: float("inf") for name in runs}
    best_cpu = dict(best_wall)
    for repeat in range(args.repeats):
        order = list(runs) if repeat % 2 == 0 else list(runs)[::-1]   # alternate: load drifts
        for name in order:
            wall, cpu = _timed(runs[name][0], segments)
            best_wall[name], best_cpu[name] = min(best_wall[name], wall), min(best_cpu[name], cpu)
    wall_speed = {name: runs[name][1] * len(segments) / best_wall[name] for name in runs}
    cpu_speed = {name: runs[name][1] * len(segments) / max(best_cpu[name], 1e-9) for name in runs}
    print(f"{len(segments)} segments of {args.seconds:g} s, best of {args.repeats}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{'stage':<24} {'audio s/wall s':>15} {'/ resample':>11} {'audio s/CPU s':>15} {'/ resample':>11}")
    for name in runs:
        print(f"{name:<24} {wall_speed[name]:>15.0f} {wall_speed[name] / wall_speed['resample']:>11.3f} "
              f"{cpu_speed[name]:>15.0f} {cpu_speed[name] / cpu_speed['resample']:>11.3f}")
    result = {"segments": len(segments), "seconds": args.seconds, "repeats": args.repeats,
              "load_average": round(os.getloadavg()[0], 1),
              "audio_s_per_wall_s": {k: round(v, 1) for k, v in wall_speed.items()},
              "ratio_to_resample_wall": {k: round(v / wall_speed["resample"], 4) for k, v in wall_speed.items()},
              "audio_s_per_cpu_s": {k: round(v, 1) for k, v in cpu_speed.items()},
              "ratio_to_resample_cpu": {k: round(v / cpu_speed["resample"], 4) for k, v in cpu_speed.items()}}
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=2)
        os.replace(tmp, args.json)
    return result


if __name__ == "__main__":
    main()
