"""Write tests/data/augment_reference.npz: augment() outputs of the code before the package split.

The fixture pins behaviour across refactors: tests/test_augment_reference.py re-runs the same
cases on today's code and compares. It was written from commit 922a725 (the last single-file
audio/augment.py, before the vectorised STFT/reverb), so regenerate it only from that code:

    git archive 922a725 audio | tar -x -C /tmp/ref922
    PYTHONPATH=/tmp/ref922 python tests/data/make_augment_reference.py tests/data/augment_reference.npz

Inputs and configs are stored in the file, so the test needs nothing from this script.
"""
from __future__ import annotations

import json
import sys

import numpy as np

SAMPLE_RATE = 16000
SECONDS = 0.25   # 4,000 samples a case keeps the file small (< 200 KB)

# AUGMENTATION_ALL as pipeline/configs.py defined it at 922a725, written out so the fixture
# does not move when the configuration does.
POLICY_ALL = {
    "pitch_scale": {"p": 0.8, "min_semitones": -4.0, "max_semitones": 4.0},
    "time_shift": {"p": 0.3, "max_fraction": 0.1},
    "time_stretch": {"p": 0.3, "min_rate": 0.85, "max_rate": 1.15},
    "vtlp": {"p": 0.3, "min_alpha": 0.9, "max_alpha": 1.1},
    "random_crop": {"p": 0.2, "min_fraction": 0.6},
    "room_reverb": {"p": 0.3, "min_rt60_s": 0.2, "max_rt60_s": 0.7},
    "background_noise": {"p": 0.4, "min_snr_db": 5.0, "max_snr_db": 25.0},
    "volume": {"p": 0.2, "min_db": -10.0, "max_db": 0.0},
}
NAMES = ("time_stretch", "pitch_scale", "vtlp", "random_crop", "time_shift", "room_reverb", "high_pass",
         "background_noise", "white_noise", "random_gain", "volume", "polarity_inversion", "time_mask")
# (case name, policy JSON, seed, example key, copy index)
CASES = [
    ("every_augmentation_a", {name: {"p": 1.0} for name in NAMES}, 7, "clip-001#0", 1),
    ("every_augmentation_b", {name: {"p": 1.0} for name in NAMES}, 7, "clip-002#3", 2),
    ("policy_all_a", POLICY_ALL, 0, "English/a.mp3#0", 1),
    ("policy_all_b", POLICY_ALL, 0, "English/a.mp3#0", 2),
    ("policy_all_c", POLICY_ALL, 0, "French/b.mp3#4", 3),
    # The vectorised STFT/reverb and the noise paths alone, with no mask hiding part of them.
    ("stft_and_room", {**{name: {"p": 0.0} for name in NAMES}, "time_stretch": {"p": 1.0}, "vtlp": {"p": 1.0},
                       "room_reverb": {"p": 1.0}}, 3, "clip-003#1", 1),
    ("noise_and_level", {**{name: {"p": 0.0} for name in NAMES}, "background_noise": {"p": 1.0},
                         "white_noise": {"p": 1.0}, "volume": {"p": 1.0}}, 3, "clip-003#1", 1),
    ("default_a", {}, 11, "German/c.mp3#1", 1),
    ("default_b", {}, 11, "German/c.mp3#1", 2),
]


def speechlike(num_samples: int, sample_rate: int) -> np.ndarray:
    """Harmonics of a gliding 110-170 Hz pitch under a syllable-rate envelope, plus a little noise."""
    t = np.arange(num_samples) / sample_rate
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 2.0 * t)) / sample_rate
    w = sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 6 * t)) ** 2
    w = w + 0.01 * np.random.default_rng(0).standard_normal(num_samples)
    return (0.8 * w / np.abs(w).max()).astype(np.float32)


def main(out_path: str) -> None:
    from audio.augment import REGISTRY, AugmentationPolicy, augment, rng_for

    assert tuple(REGISTRY) == NAMES, list(REGISTRY)
    waveform = speechlike(int(SECONDS * SAMPLE_RATE), SAMPLE_RATE)
    arrays = {"input": waveform}
    meta = []
    for name, policy, seed, key, copy_index in CASES:
        config = AugmentationPolicy.from_dict(policy).default
        out, applied = augment(waveform, SAMPLE_RATE, rng_for(seed, key, copy_index), config)
        arrays[name] = out
        meta.append({"name": name, "policy": policy, "seed": seed, "key": key, "copy": copy_index,
                     "applied": applied})
    arrays["cases"] = np.array(json.dumps({"sample_rate": SAMPLE_RATE, "cases": meta}))
    np.savez_compressed(out_path, **arrays)


if __name__ == "__main__":
    main(sys.argv[1])
