"""Any amount of new speech audio from the demo corpus, written clip by clip to disk.

Variant v of a speaker is the speaker's sentences played at a random speed (0.85-1.15x: tempo
and pitch move together), then pitch-shifted by -1.5..+1.5 semitones with its length kept (so
pitch and tempo vary independently), at a random gain (-6..+3 dB, peak-limited) with white
noise at a random SNR (15-40 dB), re-encoded as 48 kHz stereo MP3 like audio-lingua's clips.
Each variant counts as a new speaker for the speaker split.

Clip lengths: audio-lingua's clips last 30 s to 2 min, the demo's sentences 2-6 s. With
`clip_seconds=(lo, hi)` (the benchmark's default, 30-120 s) a clip is one variant speaker
reading its sentences in turn, 0.4 s apart, until a length drawn from [lo, hi]; with
`clip_seconds=None` every sentence is a clip of its own (the demo's shape), where the cost per
object (an S3 GET, a Beam element) weighs 10-30x more per second of audio.

Every parameter comes from a generator seeded by (seed, v, speaker or clip), so the corpus is
reproducible. Only one clip is in memory at a time and manifest rows are appended as files are
written, so generating hours of audio needs no more memory than generating one minute.

    python -m bench.synth_corpus --minutes 30 --out /tmp/corpus [--clip-seconds 30-120 | --clip-seconds sentence]
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
DEFAULT_CLIP_SECONDS = "30-120"  # audio-lingua's clips


def draw_params(rng: np.random.Generator) -> dict:
    return {"speed": float(rng.uniform(0.85, 1.15)), "semitones": float(rng.uniform(-1.5, 1.5)),
            "gain_db": float(rng.uniform(-6.0, 3.0)), "snr_db": float(rng.uniform(15.0, 40.0))}


def variant(audio: np.ndarray, rate: int, rng: np.random.Generator, params: dict | None = None
            ) -> tuple[np.ndarray, dict]:
    """One new rendition of a mono clip at OUTPUT_RATE, and the parameters drawn for it (or given)."""
    params = params or draw_params(rng)
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


def _mono(source_dir: str, key: str) -> tuple[np.ndarray, int]:
    audio, rate = soundfile.read(os.path.join(source_dir, key), dtype="float32", always_2d=True)
    return audio.mean(axis=1), rate


class _Writer:
    """Writes clips (48 kHz stereo MP3, atomically) and their manifest rows; counts the audio."""

    def __init__(self, target_dir: str, manifest, progress):
        self.target_dir, self.manifest, self.progress, self.total = target_dir, manifest, progress, 0.0

    def write(self, key: str, mono: np.ndarray, row: dict) -> None:
        buf = io.BytesIO()
        soundfile.write(buf, np.stack([mono, 0.9 * mono], axis=1), OUTPUT_RATE, format="MP3")
        os.makedirs(os.path.dirname(os.path.join(self.target_dir, key)), exist_ok=True)
        with open(os.path.join(self.target_dir, key) + ".tmp", "wb") as f:
            f.write(buf.getvalue())
        os.replace(os.path.join(self.target_dir, key) + ".tmp", os.path.join(self.target_dir, key))
        seconds = len(mono) / OUTPUT_RATE
        self.total += seconds
        if self.progress is not None:
            self.progress.update(round(seconds))
        self.manifest.write(json.dumps({"key": key, "seconds": round(seconds, 3), **row}, sort_keys=True) + "\n")


def _sentence_clips(rows, source_dir, writer, target, seed, version):
    for row in rows:
        if writer.total >= target:
            return
        mono, rate = _mono(source_dir, row["key"])
        rng = np.random.default_rng([seed, version, zlib.crc32(row["key"].encode())])
        audio, params = variant(mono, rate, rng)
        language, name = row["key"].split("/", 1)
        writer.write(f"{language}/{os.path.splitext(name)[0]}_v{version}.mp3", audio,
                     {"language": language, "speaker_id": f"{row['speaker_id']}_v{version}", **params})


def _speaker_clips(rows, source_dir, writer, target, seed, version, clip_seconds):
    """One clip per speaker: the speaker's sentences in turn, one variant's voice, until a drawn length."""
    by_speaker: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        by_speaker.setdefault((row["language"], row["speaker_id"]), []).append(row)
    pause = np.zeros(int(0.4 * OUTPUT_RATE), np.float32)
    for (language, speaker), sentences in by_speaker.items():
        if writer.total >= target:
            return
        rng = np.random.default_rng([seed, version, zlib.crc32(f"{language}/{speaker}".encode())])
        params, length = draw_params(rng), float(rng.uniform(*clip_seconds))
        parts, held, turn = [], 0.0, 0
        while held < length:
            mono, rate = _mono(source_dir, sentences[turn % len(sentences)]["key"])
            audio, _ = variant(mono, rate, rng, params)
            parts += [audio, pause]
            held += (len(audio) + len(pause)) / OUTPUT_RATE
            turn += 1
        writer.write(f"{language}/{speaker}__v{version}.mp3", np.concatenate(parts[:-1]),
                     {"language": language, "speaker_id": f"{speaker}_v{version}", "sentences": turn, **params})


def generate(source_dir: str, target_dir: str, minutes: float, seed: int = 0, progress=None,
             clip_seconds: tuple[float, float] | None = None) -> float:
    """Write variants (v = 0, 1, ...) until `minutes` of audio; return seconds. `clip_seconds`:
    (shortest, longest) clip, each a speaker reading in turn; None: one clip per sentence."""
    rows = interleaved(read_local_manifest(source_dir))
    if not rows:
        raise FileNotFoundError(f"no manifest rows in {source_dir}")
    if clip_seconds is not None and not 0 < clip_seconds[0] <= clip_seconds[1]:
        raise ValueError(f"clip_seconds must be 0 < shortest <= longest, got {clip_seconds}")
    os.makedirs(target_dir, exist_ok=True)
    target = minutes * 60
    with open(os.path.join(target_dir, "manifest.jsonl"), "w") as manifest:
        writer, version = _Writer(target_dir, manifest, progress), 0
        while writer.total < target:
            if clip_seconds is None:
                _sentence_clips(rows, source_dir, writer, target, seed, version)
            else:
                _speaker_clips(rows, source_dir, writer, target, seed, version, clip_seconds)
            version += 1
    return writer.total


def parse_clip_seconds(text: str) -> tuple[float, float] | None:
    """'30-120' -> (30.0, 120.0); 'sentence' -> None (one clip per sentence)."""
    if text == "sentence":
        return None
    lo, _, hi = text.partition("-")
    return float(lo), float(hi or lo)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--source", default=None, help="corpus the variants are made from (default: data/demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clip-seconds", default=DEFAULT_CLIP_SECONDS,
                   help="clip length range LO-HI in seconds (a speaker reading in turn), or 'sentence'")
    args = p.parse_args(argv)
    from config import DEMO_CORPUS_DIR

    seconds = generate(args.source or DEMO_CORPUS_DIR, args.out, args.minutes, args.seed,
                       clip_seconds=parse_clip_seconds(args.clip_seconds))
    print(f"{seconds / 60:.1f} min of audio in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
