"""A tiny corpus with planted anomalies: a hard-clipped recording, the same clip under two
languages, 20 s of room noise with one beep, and a speaker under two languages."""
from __future__ import annotations

import json
import os
import shutil

import numpy as np
import soundfile

from tests.helpers.synthetic_corpus import make_corpus, synth_clip

CLIPPED = "English/en-s1__clipped.mp3"
NOISE = "English/en-s2__roomnoise.mp3"
DUPLICATE_SOURCE = "French/fr-s2__000.mp3"
DUPLICATE_COPY = "German/de-copy__000.mp3"      # its own speaker id: the split must still join them
BILINGUAL = "French/en-s3__fr000.mp3"            # speaker en-s3, otherwise English
RATE = 22050


def room_noise_with_beep(seconds: float = 20.0, rate: int = RATE, seed: int = 5) -> np.ndarray:
    """Brown-ish noise at about -50 dBFS and one 0.3 s, 1 kHz beep at -6 dBFS peak."""
    rng = np.random.default_rng(seed)
    noise = np.cumsum(rng.standard_normal(int(seconds * rate)))
    noise -= np.convolve(noise, np.ones(2001) / 2001, mode="same")
    noise *= 10 ** (-50 / 20) / np.sqrt(np.mean(noise ** 2))
    start, n = int(9.0 * rate), int(0.3 * rate)
    noise[start:start + n] += 0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / rate)
    return noise.astype(np.float32)


def make_planted_corpus(root: str) -> list[dict]:
    rows = make_corpus(root, speakers_per_language=4, clips_per_speaker=3)
    rng = np.random.default_rng(7)
    planted = []
    clipped = np.clip(4.0 * synth_clip("English", 1, 2.5, RATE, rng), -1.0, 1.0)
    soundfile.write(os.path.join(root, CLIPPED), clipped, RATE, format="MP3")
    planted.append({"key": CLIPPED, "language": "English", "speaker_id": "en-s1"})
    soundfile.write(os.path.join(root, NOISE), room_noise_with_beep(), RATE, format="MP3")
    planted.append({"key": NOISE, "language": "English", "speaker_id": "en-s2"})
    shutil.copyfile(os.path.join(root, DUPLICATE_SOURCE), os.path.join(root, DUPLICATE_COPY))
    planted.append({"key": DUPLICATE_COPY, "language": "German", "speaker_id": "de-copy"})
    soundfile.write(os.path.join(root, BILINGUAL), synth_clip("French", 3, 2.5, RATE, rng), RATE, format="MP3")
    planted.append({"key": BILINGUAL, "language": "French", "speaker_id": "en-s3"})
    rows = rows + [{**row, "synthetic": True, "text": "", "duration_s": 0.0} for row in planted]
    with open(os.path.join(root, "manifest.jsonl"), "w") as f:
        for row in sorted(rows, key=lambda r: r["key"]):
            f.write(json.dumps(row, sort_keys=True) + "\n")
    return rows
