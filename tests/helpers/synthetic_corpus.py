"""A tiny corpus of synthetic 'languages' with a known answer, for pipeline tests.

Each 'language' is a syllable-like sound whose pitch moves in its own pattern (rising,
falling, up-and-down, level), so it survives per-utterance normalisation the way real
phonotactics do; each speaker scales pitch and tempo a little, so the speaker-disjoint
split is exercised for real.
"""
from __future__ import annotations

import json
import os

import numpy as np
import soundfile

PATTERNS_HZ = {
    "English": (400.0, 2400.0),          # rising sweep
    "French": (2400.0, 400.0),           # falling sweep
    "German": (700.0, 3000.0, 700.0),    # up and down
    "Spanish": (1500.0, 1500.0),         # level
}


def synth_clip(language: str, speaker: int, seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    scale = 1.0 + 0.05 * (speaker - 2)                   # the speaker's 'vocal tract'
    syllable = 0.22 * (1.0 + 0.04 * (speaker % 3))       # and tempo
    n, step = int(seconds * rate), int(syllable * rate)
    out = np.zeros(n)
    pattern = np.asarray(PATTERNS_HZ[language]) * scale
    for start in range(0, n - step // 2, step):
        m = min(step, n - start)
        sweep = np.interp(np.linspace(0, 1, m), np.linspace(0, 1, len(pattern)), pattern)
        sweep *= 1.0 + 0.03 * rng.standard_normal()
        phase = 2 * np.pi * np.cumsum(sweep) / rate
        burst = np.sin(phase) + 0.4 * np.sin(2 * phase)
        out[start:start + m] = burst * np.hanning(m) * (0.6 + 0.4 * rng.random())
    out += 0.01 * rng.standard_normal(n)
    return (out / np.max(np.abs(out)) * 0.8).astype(np.float32)


def make_corpus(root: str, languages=("English", "French", "German"), speakers_per_language: int = 3,
                clips_per_speaker: int = 2, seconds: float = 2.5, rate: int = 22050, seed: int = 0) -> list[dict]:
    """Write {Language}/{speaker}__{n}.mp3 files and manifest.jsonl under root; return the rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for language in languages:
        os.makedirs(os.path.join(root, language), exist_ok=True)
        for speaker in range(1, speakers_per_language + 1):
            speaker_id = f"{language[:2].lower()}-s{speaker}"
            for n in range(clips_per_speaker):
                key = f"{language}/{speaker_id}__{n:03d}.mp3"
                audio = synth_clip(language, speaker, seconds, rate, rng)
                soundfile.write(os.path.join(root, key), audio, rate, format="MP3")
                rows.append({"key": key, "language": language, "speaker_id": speaker_id,
                             "duration_s": seconds, "text": "", "synthetic": True})
    with open(os.path.join(root, "manifest.jsonl"), "w") as f:
        for row in sorted(rows, key=lambda r: r["key"]):
            f.write(json.dumps(row, sort_keys=True) + "\n")
    return rows
