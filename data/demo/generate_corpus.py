#!/usr/bin/env python3
"""Generate the synthetic demo corpus (``data/demo/``) with espeak-ng.

This is SYNTHETIC speech for demonstration and tests only. Every clip is produced by
espeak-ng from a sentence in ``sentences/{Language}.txt``; each sentence is used at most
once. Speakers are espeak-ng voice variants with their own base pitch, rate, word gap and
level, and every clip gets a small seeded jitter of rate and pitch. The output is
16 kHz mono MP3 plus ``manifest.jsonl`` (one JSON object a line, sorted by key).

The generated MP3s and manifest are committed, so ``make demo`` does not need espeak-ng;
espeak-ng is only needed to regenerate them::

    apt-get install espeak-ng
    .venv/bin/python data/demo/generate_corpus.py --out data/demo --seed 20240601

The output is deterministic for a given seed, sentence files, speaker table and
espeak-ng version (1.51 was used for the committed corpus).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

HERE = Path(__file__).resolve().parent

TARGET_SR = 16_000
MIN_DURATION_S = 2.0
MAX_DURATION_S = 6.0
# Aim for durations a little inside the limits when the rate has to be adjusted.
RETARGET_SHORT_S = 2.4
RETARGET_LONG_S = 5.5
# How far the rate may be moved from the jittered speaker rate to fit a sentence into
# [MIN_DURATION_S, MAX_DURATION_S]; a sentence that still does not fit is skipped
# (and never used again).
MIN_RATE_FACTOR = 0.72
MAX_RATE_FACTOR = 1.45
ESPEAK_MIN_RATE = 80
ESPEAK_MAX_RATE = 450
RATE_JITTER = 0.07  # +-7 % of the speaker's base rate (uniform)
PITCH_JITTER = 6  # +-6 on espeak's 0..99 pitch scale (uniform, integer)
SILENCE_DB = -40.0  # trim frames quieter than this relative to the loudest frame
TRIM_PAD_S = 0.08  # keep this much audio around the speech after trimming
FADE_S = 0.01

# MP3: libsndfile's LAME encoder, variable bit rate. For 16 kHz mono (MPEG-2 layer III)
# compression_level 0.85 gives about 32-40 kbit/s.
MP3_COMPRESSION_LEVEL = 0.85
MP3_BITRATE_MODE = "VARIABLE"


@dataclasses.dataclass(frozen=True)
class Language:
    name: str  # folder name and label
    prefix: str  # speaker-id prefix
    voice: str  # espeak-ng voice
    rate_factor: float  # espeak-ng speaks some voices faster/slower than others


LANGUAGES = (
    Language("English", "en", "en", 1.00),
    Language("French", "fr", "fr", 0.93),
    Language("Spanish", "es", "es", 1.05),
    Language("German", "de", "de", 1.05),
    Language("Russian", "ru", "ru", 0.90),
    # espeak-ng 1.51's "cmn" voice reads Chinese characters as pinyin with the tone digit
    # spoken in English ("jin one tian one ..."); "cmn-latn-pinyin" reads the same
    # characters correctly with Mandarin tones (espeak-ng issues #1028, #1236).
    Language("Chinese", "zh", "cmn-latn-pinyin", 1.30),
)


@dataclasses.dataclass(frozen=True)
class Speaker:
    variant: str  # espeak-ng voice variant (voices/!v/<variant>)
    pitch: int  # espeak -p, 0..99 (the variant sets the Hz range)
    rate: int  # espeak -s, words per minute, before the language's rate_factor
    word_gap: int  # espeak -g, extra pause between words in units of 10 ms
    amplitude: int  # espeak -a, 0..200 (keeps loud variants from clipping)
    peak_dbfs: float  # output level: peak normalised to this


# One speaker identity per variant; the same table is used for every language, so a
# voice never identifies a language by itself. The first --speakers-per-language rows are
# used. Left out on purpose: whisper/whisperf (unvoiced), klatt6 (identical output to
# klatt), croak (mostly unvoiced, very rough), novelty variants (Demonic, robots, etc.).
SPEAKERS = (
    Speaker("m1", pitch=40, rate=135, word_gap=0, amplitude=100, peak_dbfs=-2.0),
    Speaker("f1", pitch=50, rate=140, word_gap=0, amplitude=100, peak_dbfs=-3.0),
    Speaker("m3", pitch=55, rate=150, word_gap=0, amplitude=100, peak_dbfs=-1.5),
    Speaker("f2", pitch=60, rate=155, word_gap=0, amplitude=100, peak_dbfs=-4.0),
    Speaker("m7", pitch=45, rate=125, word_gap=1, amplitude=100, peak_dbfs=-3.0),
    Speaker("f3", pitch=45, rate=130, word_gap=1, amplitude=100, peak_dbfs=-2.5),
    Speaker("klatt2", pitch=50, rate=145, word_gap=0, amplitude=100, peak_dbfs=-5.0),
    Speaker("f4", pitch=65, rate=145, word_gap=0, amplitude=100, peak_dbfs=-2.0),
    Speaker("klatt4", pitch=35, rate=130, word_gap=0, amplitude=60, peak_dbfs=-3.5),
    Speaker("Annie", pitch=50, rate=135, word_gap=0, amplitude=100, peak_dbfs=-1.0),
    # Extra identities for --speakers-per-language > 10.
    Speaker("m2", pitch=55, rate=140, word_gap=0, amplitude=100, peak_dbfs=-2.0),
    Speaker("f5", pitch=55, rate=135, word_gap=0, amplitude=100, peak_dbfs=-3.0),
    Speaker("m6", pitch=40, rate=150, word_gap=0, amplitude=100, peak_dbfs=-2.5),
    Speaker("klatt", pitch=50, rate=140, word_gap=0, amplitude=100, peak_dbfs=-3.0),
    Speaker("klatt3", pitch=45, rate=145, word_gap=1, amplitude=100, peak_dbfs=-2.0),
    Speaker("m4", pitch=50, rate=150, word_gap=0, amplitude=100, peak_dbfs=-4.0),
)


def speaker_id(lang: Language, spk: Speaker) -> str:
    """One espeak-ng variant is one voice in every language, so it is one speaker identity:
    holding a speaker out of training then holds that voice out in all six languages."""
    return f"espeak-{spk.variant.lower()}"


def voice_name(lang: Language, spk: Speaker) -> str:
    return f"{lang.voice}+{spk.variant}"


def check_espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit(
            "error: espeak-ng is not installed (apt-get install espeak-ng).\n"
            "It is only needed to REGENERATE the demo corpus; the committed MP3s in "
            "data/demo/ are enough for `make demo`."
        )
    return exe


def read_sentences(path: Path) -> list[str]:
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    dupes = sorted({ln for ln in lines if lines.count(ln) > 1})
    if dupes:
        sys.exit(f"error: duplicate sentences in {path}: {dupes[:3]}")
    return lines


def synthesize(exe: str, voice: str, rate: int, pitch: int, spk: Speaker, text: str,
               wav_path: Path) -> tuple[np.ndarray, int]:
    cmd = [exe, "-v", voice, "-s", str(rate), "-p", str(pitch), "-a", str(spk.amplitude),
           "-g", str(spk.word_gap), "-b", "1", "-w", str(wav_path), "--stdin"]
    proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True)
    if proc.returncode != 0 or not wav_path.exists():
        raise RuntimeError(f"espeak-ng failed ({' '.join(cmd)}): {proc.stderr.decode()!r}")
    audio, sr = sf.read(str(wav_path), dtype="float64", always_2d=True)
    return audio.mean(axis=1), sr


def trim_silence(x: np.ndarray, sr: int) -> np.ndarray:
    frame = max(1, int(0.01 * sr))
    n = len(x) // frame
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > SILENCE_DB)
    pad = int(TRIM_PAD_S * sr)
    start = max(0, loud[0] * frame - pad)
    end = min(len(x), (loud[-1] + 1) * frame + pad)
    return x[start:end]


def finish(x: np.ndarray, sr: int, peak_dbfs: float) -> np.ndarray:
    """Trim, resample to 16 kHz, fade the edges, peak-normalise."""
    x = trim_silence(x, sr)
    y = soxr.resample(x, sr, TARGET_SR, quality="HQ") if sr != TARGET_SR else x.copy()
    fade = int(FADE_S * TARGET_SR)
    ramp = np.linspace(0.0, 1.0, fade)
    y[:fade] *= ramp
    y[-fade:] *= ramp[::-1]
    peak = np.abs(y).max()
    if peak <= 0:
        return y
    return y * (10 ** (peak_dbfs / 20) / peak)


def render(exe: str, lang: Language, spk: Speaker, rate: int, pitch: int, text: str,
           wav_path: Path) -> tuple[np.ndarray, int] | None:
    """Synthesize ``text``; adjust the rate (at most twice) to land in the duration range.

    Returns (16 kHz audio, rate actually used) or None if the sentence cannot fit.
    """
    voice = voice_name(lang, spk)
    lo_rate = max(ESPEAK_MIN_RATE, int(round(rate * MIN_RATE_FACTOR)))
    hi_rate = min(ESPEAK_MAX_RATE, int(round(rate * MAX_RATE_FACTOR)))
    tried = set()
    for _ in range(3):
        tried.add(rate)
        raw, sr = synthesize(exe, voice, rate, pitch, spk, text, wav_path)
        y = finish(raw, sr, spk.peak_dbfs)
        dur = len(y) / TARGET_SR
        if MIN_DURATION_S <= dur <= MAX_DURATION_S:
            return y, rate
        target = RETARGET_LONG_S if dur > MAX_DURATION_S else RETARGET_SHORT_S
        new_rate = int(np.clip(round(rate * dur / target), lo_rate, hi_rate))
        if new_rate in tried:
            return None
        rate = new_rate
    return None


def encode_mp3(path: Path, y: np.ndarray) -> float:
    """Write ``y`` as 16 kHz mono MP3 and return the decoded duration in seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), y.astype(np.float32), TARGET_SR, format="MP3",
             subtype="MPEG_LAYER_III", compression_level=MP3_COMPRESSION_LEVEL,
             bitrate_mode=MP3_BITRATE_MODE)
    decoded, sr = sf.read(str(path), dtype="float32")
    return len(decoded) / sr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE,
                    help="corpus root (default: the folder of this script, data/demo)")
    ap.add_argument("--sentences", type=Path, default=HERE / "sentences",
                    help="folder with {Language}.txt, one sentence a line")
    ap.add_argument("--clips-per-language", type=int, default=80)
    ap.add_argument("--speakers-per-language", type=int, default=16)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--languages", nargs="*", default=[lg.name for lg in LANGUAGES],
                    help="subset of languages to generate (default: all six)")
    args = ap.parse_args(argv)

    if not 1 <= args.speakers_per_language <= len(SPEAKERS):
        ap.error(f"--speakers-per-language must be 1..{len(SPEAKERS)}")
    if args.clips_per_language % args.speakers_per_language:
        print("warning: clips per language is not a multiple of speakers per language; "
              "the first speakers get one clip more", file=sys.stderr)
    unknown = set(args.languages) - {lg.name for lg in LANGUAGES}
    if unknown:
        ap.error(f"unknown languages: {sorted(unknown)}")
    exe = check_espeak()
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    print(version)

    langs = [lg for lg in LANGUAGES if lg.name in args.languages]
    speakers = SPEAKERS[: args.speakers_per_language]
    out: Path = args.out
    manifest_path = out / "manifest.jsonl"
    rows: dict[str, dict] = {}
    if manifest_path.exists():  # keep rows of languages that are not regenerated
        for line in manifest_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                if row["language"] not in args.languages:
                    rows[row["key"]] = row

    sentences = {}
    for lang in langs:
        sents = read_sentences(args.sentences / f"{lang.name}.txt")
        if len(sents) < args.clips_per_language:
            sys.exit(f"error: {lang.name} has {len(sents)} sentences, "
                     f"need at least {args.clips_per_language}")
        sentences[lang.name] = sents

    skipped: dict[str, list[str]] = {}
    bar = tqdm(total=len(langs) * args.clips_per_language, unit="clip")
    with tempfile.TemporaryDirectory(prefix="demo_corpus_") as tmp:
        wav_path = Path(tmp) / "clip.wav"
        for li, lang in enumerate(LANGUAGES):
            if lang not in langs:
                continue
            # Independent stream per language: regenerating one language does not change
            # the others.
            rng = np.random.default_rng([args.seed, li])
            sents = sentences[lang.name]
            order = rng.permutation(len(sents))
            lang_dir = out / lang.name
            if lang_dir.exists():
                for old in lang_dir.glob("*__*.mp3"):
                    old.unlink()
            bar.set_description(lang.name)
            next_sentence = 0
            for clip in range(args.clips_per_language):
                spk = speakers[clip % len(speakers)]
                base_rate = spk.rate * lang.rate_factor
                while True:
                    if next_sentence >= len(order):
                        sys.exit(f"error: ran out of sentences for {lang.name} after "
                                 f"{clip} clips ({len(skipped.get(lang.name, []))} skipped "
                                 "as too short/long); add sentences")
                    text = sents[order[next_sentence]]
                    next_sentence += 1
                    # Draw the jitter before synthesis so the random stream does not
                    # depend on the audio.
                    rate = int(round(base_rate * rng.uniform(1 - RATE_JITTER, 1 + RATE_JITTER)))
                    pitch = int(np.clip(spk.pitch + rng.integers(-PITCH_JITTER, PITCH_JITTER + 1),
                                        0, 99))
                    got = render(exe, lang, spk, rate, pitch, text, wav_path)
                    if got is not None:
                        break
                    skipped.setdefault(lang.name, []).append(text)
                y, used_rate = got
                sid = speaker_id(lang, spk)
                key = f"{lang.name}/{sid}__{clip:03d}.mp3"
                duration = encode_mp3(out / key, y)
                if not MIN_DURATION_S <= duration <= MAX_DURATION_S:
                    raise RuntimeError(f"{key}: decoded duration {duration:.3f} s out of range")
                rows[key] = {
                    "key": key,
                    "language": lang.name,
                    "speaker_id": sid,
                    "text": text,
                    "duration_s": round(duration, 3),
                    "voice": voice_name(lang, spk),
                    "rate_wpm": used_rate,
                    "pitch": pitch,
                    "synthetic": True,
                }
                bar.update(1)
    bar.close()

    with manifest_path.open("w", encoding="utf-8") as f:
        for key in sorted(rows):
            f.write(json.dumps(rows[key], ensure_ascii=False, sort_keys=True) + "\n")

    for lang in langs:
        lrows = [r for r in rows.values() if r["language"] == lang.name]
        durs = [r["duration_s"] for r in lrows]
        print(f"{lang.name:8s} clips={len(lrows):3d} speakers={len({r['speaker_id'] for r in lrows}):2d} "
              f"duration {min(durs):.2f}-{max(durs):.2f} s (mean {np.mean(durs):.2f}) "
              f"skipped sentences={len(skipped.get(lang.name, []))}")
        for text in skipped.get(lang.name, []):
            print(f"    skipped (could not fit {MIN_DURATION_S:g}-{MAX_DURATION_S:g} s): {text}")
    print(f"wrote {manifest_path} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
