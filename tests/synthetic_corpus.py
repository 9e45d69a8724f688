"""A tiny corpus of synthetic 'languages' with a known answer, for pipeline tests.

Each 'language' is a noise band at its own centre frequency over a speaker-specific hum, so
a model that learned anything spectral separates them; each speaker has its own pitch and
band width, so the speaker-disjoint split is exercised for real.
"""
from __future__ import annotations

import json
import os

import numpy as np
import scipy.signal
import soundfile

CENTRES_HZ = {"English": 600.0, "French": 1800.0, "German": 3600.0, "Spanish": 5200.0}


def synth_clip(language: str, speaker: int, seconds: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * rate)
    t = np.arange(n) / rate
    centre = CENTRES_HZ[language] * (1.0 + 0.04 * (speaker - 1))
    width = 0.25 + 0.05 * speaker
    sos = scipy.signal.butter(4, [centre * (1 - width / 2), centre * (1 + width / 2)], "bandpass", fs=rate, output="sos")
    band = scipy.signal.sosfilt(sos, rng.standard_normal(n))
    hum = np.sin(2 * np.pi * (110 + 25 * speaker) * t)
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * (3 + speaker % 3) * t)
    x = envelope * band / (np.std(band) + 1e-9) * 0.1 + 0.05 * hum
    return (x / np.max(np.abs(x)) * 0.8).astype(np.float32)


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
