"""How many demo-corpus windows ingestion keeps now that it uses audio/speech.py, and how many
augmented copies of kept windows serving would call no_speech.

    python -m bench.speech_windows [--every 5] [--copies 3]

Prints, for every `--every`-th clip of data/demo: windows before (the former -40 dB relative
trim, kept here for the comparison only) and after (audio/speech.py's trim, windows without
speech dropped), then the augmenter's copies (config/groups.py's policy and copies) of the
kept windows judged by window_has_speech, per augmentation.
"""
from __future__ import annotations

import argparse
import collections
import json
import os

import numpy as np

from audio import speech
from audio.augment import AugmentationPolicy, augment, rng_for
from audio.decode import decode_audio
from audio.segment import fixed_segments
from config import PipelineConfig
from contract.geometry import WindowGeometry

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "demo")


def former_trim(waveform: np.ndarray, rate: int, threshold_db: float = -40.0) -> np.ndarray:
    """The trim ingestion used before (frames within 40 dB of the loudest), for comparison."""
    frame = rate // 50
    n = len(waveform) // frame
    if n == 0:
        return waveform[:0]
    level = 20 * np.log10(np.sqrt(np.mean(waveform[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-20))
    if level.max() < -70.0:
        return waveform[:0]
    loud = np.flatnonzero(level >= level.max() + threshold_db)
    return waveform[loud[0] * frame: (loud[-1] + 1) * frame]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--every", type=int, default=5)
    p.add_argument("--copies", type=int, default=None)
    args = p.parse_args()
    config = PipelineConfig()
    rate = config.data.sample_rate
    geometry = WindowGeometry(rate, config.data.segment_seconds)
    size, hop = geometry.window_samples, geometry.hop_samples
    copies = config.augmenter.copies if args.copies is None else args.copies
    policy = AugmentationPolicy.from_dict(dict(config.augmenter.policy))
    with open(os.path.join(DEMO, "manifest.jsonl")) as f:
        rows = [json.loads(line) for line in f][:: args.every]
    counts = collections.Counter()
    by_augmentation: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for row in rows:
        with open(os.path.join(DEMO, row["key"]), "rb") as f:
            waveform = decode_audio(f.read(), rate)
        counts["clips"] += 1
        counts["windows_before"] += len(fixed_segments(former_trim(waveform, rate), size, hop))
        voiced = speech.trim(waveform, rate)
        segments = fixed_segments(voiced, size, hop)
        kept = [(i, s) for i, s in enumerate(segments)
                if speech.window_has_speech(s[: min(size, len(voiced) - i * hop)], rate)]
        counts["windows_after_trim"] += len(segments)
        counts["windows_kept"] += len(kept)
        counts["clips_without_speech"] += not kept
        config_for = policy.for_language(row["language"])
        for index, segment in kept:
            for copy_index in range(1, copies + 1):
                out, names = augment(segment, rate, rng_for(7, f"{row['key']}:{index}", copy_index), config_for)
                real = min(size, len(voiced) - index * hop)
                lost = not speech.window_has_speech(np.asarray(out)[:real], rate)
                counts["copies"] += 1
                counts["copies_no_speech"] += lost
                for name in names:
                    by_augmentation[name][0] += 1
                    by_augmentation[name][1] += lost
    print(json.dumps(dict(counts)))
    for name, (used, lost) in sorted(by_augmentation.items()):
        print(f"{name:24s} used {used:5d}  no_speech after {lost:4d} ({100 * lost / max(used, 1):.1f}%)")


if __name__ == "__main__":
    main()
