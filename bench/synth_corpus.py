"""Any amount of new speech audio from the demo corpus, written clip by clip to disk.

Variant v of a clip is the clip played at a random speed (0.85-1.15x: tempo and pitch move
together), then pitch-shifted by -1.5..+1.5 semitones with its length kept (so pitch and
tempo vary independently), at a random gain (-6..+3 dB, peak-limited) with white noise at a
random SNR (15-40 dB), re-encoded as 48 kHz stereo MP3 like audio-lingua's clips. Every
parameter comes from a generator seeded by (seed, v, clip), so the corpus is reproducible;
each variant counts as a new speaker for the speaker split. Only one clip is in memory at a
time and manifest rows are appended as files are written, so generating hours of audio
needs no more memory than generating one minute.

    python -m bench.synth_corpus --minutes 30 --out /tmp/corpus
"""
from __future__ import annotations

import argparse
import io
import json
import os
import zlib

import numpy as np
import soundfile
import soxr

from audio.augment import add_white_noise, apply_gain, limit_peak, pitch_scale
from storage.corpus import read_local_manifest

OUTPUT_RATE = 48000


def variant(audio: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """One new rendition of a mono clip at OUTPUT_RATE, and the parameters drawn for it."""
    params = {"speed": float(rng.uniform(0.85, 1.15)), "semitones": float(rng.uniform(-1.5, 1.5)),
              "gain_db": float(rng.uniform(-6.0, 3.0)), "snr_db": float(rng.uniform(15.0, 40.0))}
    # Resampling to OUTPUT_RATE/speed and playing at OUTPUT_RATE plays it `speed` times faster.
    sped = soxr.resample(audio, rate, OUTPUT_RATE / params["speed"])
    shifted = pitch_scale(sped, OUTPUT_RATE, params["semitones"])
    noisy = add_white_noise(apply_gain(shifted, params["gain_db"]), rng, params["snr_db"])
    return limit_peak(noisy), params


def interleaved(rows: list[dict]) -> list[dict]:
    """Rows round-robin over languages, so any prefix of the corpus holds every language."""
    by_language: dict[str, list[dict]] = {}
    for row in rows:
        by_language.setdefault(row["language"], []).append(row)
    queues = list(by_language.values())
    return [queue[i] for i in range(max(map(len, queues), default=0)) for queue in queues if i < len(queue)]


def generate(source_dir: str, target_dir: str, minutes: float, seed: int = 0, progress=None) -> float:
    """Write variants (v = 0, 1, ... over all source clips) until `minutes` of audio; return seconds."""
    rows = interleaved(read_local_manifest(source_dir))
    if not rows:
        raise FileNotFoundError(f"no manifest rows in {source_dir}")
    os.makedirs(target_dir, exist_ok=True)
    total, target = 0.0, minutes * 60
    with open(os.path.join(target_dir, "manifest.jsonl"), "w") as manifest:
        version = 0
        while total < target:
            for row in rows:
                if total >= target:
                    break
                audio, rate = soundfile.read(os.path.join(source_dir, row["key"]), dtype="float32", always_2d=True)
                rng = np.random.default_rng([seed, version, zlib.crc32(row["key"].encode())])
                mono, params = variant(audio.mean(axis=1), rate, rng)
                buf = io.BytesIO()
                soundfile.write(buf, np.stack([mono, 0.9 * mono], axis=1), OUTPUT_RATE, format="MP3")
                language, name = row["key"].split("/", 1)
                key = f"{language}/{os.path.splitext(name)[0]}_v{version}.mp3"
                os.makedirs(os.path.join(target_dir, language), exist_ok=True)
                with open(os.path.join(target_dir, key) + ".tmp", "wb") as f:
                    f.write(buf.getvalue())
                os.replace(os.path.join(target_dir, key) + ".tmp", os.path.join(target_dir, key))
                seconds = len(mono) / OUTPUT_RATE
                total += seconds
                if progress is not None:
                    progress.update(round(seconds))
                manifest.write(json.dumps({"key": key, "language": language, "seconds": round(seconds, 3),
                                           "speaker_id": f"{row['speaker_id']}_v{version}", **params},
                                          sort_keys=True) + "\n")
            version += 1
    return total


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--source", default=None, help="corpus the variants are made from (default: data/demo)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    from pipeline.config import DEMO_CORPUS_DIR

    seconds = generate(args.source or DEMO_CORPUS_DIR, args.out, args.minutes, args.seed)
    print(f"{seconds / 60:.1f} min of audio in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
