"""Write the background-noise bank used by the `background_noise` augmentation.

    python audio/noise_bank/generate_noise_bank.py [--corpus-dir data/demo] [--out audio/noise_bank]

white/pink/brown.wav: 3 s of coloured Gaussian noise each (audio.noise.coloured_noise).
babble.wav: 6 s of six demo clips (one per language, six different speakers) at equal
level, summed: a crowd in which no single voice or language is intelligible, so it adds
speech-like interference without giving away any one label.
All 16 kHz mono 16-bit PCM at -20 dBFS RMS, about 0.5 MB in total. Deterministic (seeded).
Evaluation under a *shifted* condition (bench/augmentation.py) uses blue noise and other
RT60s on purpose: nothing in this bank.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import soundfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

from audio.decode import decode_audio  # noqa: E402
from audio.noise import coloured_noise  # noqa: E402

RATE = 16000
LEVEL_RMS = 0.1          # -20 dBFS
COLOURED_SECONDS = 3.0
BABBLE_SECONDS = 6.0
BABBLE_TALKERS = 6
SEED = 20260


def babble(corpus_dir: str, rng: np.random.Generator) -> np.ndarray:
    """Sum of BABBLE_TALKERS clips, one per language where possible, each a different speaker."""
    with open(os.path.join(corpus_dir, "manifest.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    by_language: dict[str, list[dict]] = {}
    for row in rows:
        by_language.setdefault(row["language"], []).append(row)
    chosen, speakers = [], set()
    for language in sorted(by_language):
        candidates = [r for r in by_language[language] if r["speaker_id"] not in speakers]
        if candidates:
            row = candidates[int(rng.integers(len(candidates)))]
            chosen.append(row)
            speakers.add(row["speaker_id"])
        if len(chosen) == BABBLE_TALKERS:
            break
    if not chosen:
        raise SystemExit(f"no clips listed in {corpus_dir}/manifest.jsonl")
    n = int(BABBLE_SECONDS * RATE)
    mix = np.zeros(n)
    for row in chosen:
        with open(os.path.join(corpus_dir, row["key"]), "rb") as f:
            voice = decode_audio(f.read(), RATE).astype(np.float64)
        voice = np.tile(voice, -(-n // voice.size))[:n]           # loop short clips
        mix += voice / (np.sqrt(np.mean(voice**2)) + 1e-12)
    return mix


def write(path: str, audio: np.ndarray) -> None:
    audio = audio * (LEVEL_RMS / np.sqrt(np.mean(audio**2)))
    audio = audio / max(1.0, float(np.max(np.abs(audio))) / 0.99)
    fd, tmp = tempfile.mkstemp(suffix=".wav", dir=os.path.dirname(path))
    os.close(fd)
    soundfile.write(tmp, audio.astype(np.float32), RATE, subtype="PCM_16")
    os.replace(tmp, path)   # never a half-written bank file


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus-dir", default=os.path.join(ROOT, "data", "demo"))
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = parser.parse_args(argv)
    rng = np.random.default_rng(SEED)
    os.makedirs(args.out, exist_ok=True)
    for colour in ("white", "pink", "brown"):
        write(os.path.join(args.out, f"{colour}.wav"), coloured_noise(rng, int(COLOURED_SECONDS * RATE), colour))
    write(os.path.join(args.out, "babble.wav"), babble(args.corpus_dir, rng))
    for name in sorted(os.listdir(args.out)):
        if name.endswith(".wav"):
            print(f"{name}: {os.path.getsize(os.path.join(args.out, name)) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
