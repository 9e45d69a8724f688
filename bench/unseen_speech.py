"""Labelled speech the demo model never heard, built from Debian packages into a directory.

Sets (each clip a 16 kHz mono WAV, one manifest row: path, set, language, source, speaker):

- `espeak_new`: espeak-ng, the demo corpus's 16 voices and settings (data/demo/generate_corpus.py)
  reading sentences that are not in data/demo (bench/unseen_sentences.py), two voices a sentence,
  so every voice, the held-out ones included, speaks every language.
- `other_synth`: other synthesizers. Festival (English: kal_diphone, ked_diphone,
  cmu_us_slt_arctic_hts; Russian: msu_ru_nsh_clunits), Flite (English: awb, rms), and
  espeak-ng's MBROLA diphone voices where Debian's mbrola packages can be installed.
- `human_words`: single words read by people, KTuberling's sound themes (ktuberling-data:
  English, French, German, Spanish, Russian; no Chinese).
- `human_sentences`: short phrases read by people, Asterisk's telephone prompts
  (asterisk-core-sounds-{en,es,fr,ru}-wav, 8 kHz, one professional voice a package), and the
  LibriVox excerpts of pocketsphinx-testdata (English).
- `human_out_of_set`: phrases read by people in a language the demo model does not know:
  Italian Asterisk prompts (asterisk-core-sounds-it-wav, asterisk-prompt-it-menardi-wav; a man
  and a woman). For `--reject-unknown` only; accuracy benches skip it (OUT_OF_SET_SETS).

Synthesizers are installed with apt-get when running as root; data packages are fetched with
`apt-get download` and unpacked into the cache (no root needed, no dependencies pulled in).
Nothing is fetched from anywhere but the machine's Debian sources. Whatever cannot be had is
listed in build_report.json and printed, and the other sets are still built.

    python -m bench.unseen_speech --out DIR [--sets espeak_new,other_synth,...] [--no-install]
"""
from __future__ import annotations

import argparse
import dataclasses
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(REPO, "data", "demo")
RATE = 16_000
LANGUAGES = ("English", "French", "Spanish", "German", "Russian", "Chinese")
SETS = ("espeak_new", "other_synth", "human_words", "human_sentences", "human_out_of_set")
OUT_OF_SET_SETS = ("human_out_of_set",)   # languages outside the demo model: what --reject-unknown must refuse

# KTuberling sound themes (usr/share/ktuberling/sounds/<code>) -> the model's language names
KTUBERLING_LANGUAGES = {"en": "English", "fr": "French", "es": "Spanish", "de": "German", "ru": "Russian"}
# Asterisk core sound packages -> (language, folder of the voice's prompts)
ASTERISK = {
    "asterisk-core-sounds-en-wav": ("English", "en_US_f_Allison"),
    "asterisk-core-sounds-es-wav": ("Spanish", "es_MX_f_Allison"),
    "asterisk-core-sounds-fr-wav": ("French", "fr_CA_f_June"),
    "asterisk-core-sounds-ru-wav": ("Russian", "ru_RU_f_IvrvoiceRU"),
}
ASTERISK_OUT_OF_SET = {
    "asterisk-core-sounds-it-wav": ("Italian", "it_IT_m_Carlo"),
    "asterisk-prompt-it-menardi-wav": ("Italian", "it_IT_f_Menardi"),
}
# (package, festival voice, language)
FESTIVAL_VOICES = (
    ("festvox-kallpc16k", "kal_diphone", "English"),
    ("festvox-kdlpc16k", "ked_diphone", "English"),
    ("festvox-us-slt-hts", "cmu_us_slt_arctic_hts", "English"),
    ("festvox-ru", "msu_ru_nsh_clunits", "Russian"),
)
FLITE_VOICES = ("awb", "rms")
# (package, espeak-ng voice, language): the MBROLA diphone databases espeak-ng can drive
MBROLA_VOICES = (
    ("mbrola-us1", "mb-us1", "English"), ("mbrola-fr1", "mb-fr1", "French"),
    ("mbrola-es1", "mb-es1", "Spanish"), ("mbrola-de1", "mb-de1", "German"),
)


@dataclasses.dataclass
class Missing:
    """Something a set could not get, and why: printed and written, never raised."""
    set: str
    what: str
    reason: str


class Apt:
    """The machine's Debian package tools; tests swap in a fake."""

    def installed(self, package: str) -> bool:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        return proc.returncode == 0 and proc.stdout.strip().endswith("installed")

    def install(self, packages: list[str]) -> str | None:
        """apt-get install; None on success, else the reason."""
        if os.geteuid() != 0:
            return "not root: install with apt-get install " + " ".join(packages)
        proc = subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages],
                              capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if proc.returncode != 0:
            return _apt_reason(proc.stdout + proc.stderr)
        return None

    def download_extract(self, package: str, dest: str) -> str | None:
        """apt-get download + dpkg-deb -x into dest; None on success, else the reason."""
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)  # so apt's sandbox user may write there
            proc = subprocess.run(["apt-get", "download", "-q", package], cwd=tmp, capture_output=True, text=True)
            debs = glob.glob(os.path.join(tmp, "*.deb"))
            if proc.returncode != 0 or not debs:
                return _apt_reason(proc.stdout + proc.stderr)
            os.makedirs(dest, exist_ok=True)
            proc = subprocess.run(["dpkg-deb", "-x", debs[0], dest], capture_output=True, text=True)
            return None if proc.returncode == 0 else f"dpkg-deb -x failed: {proc.stderr.strip()[:200]}"


def _apt_reason(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.startswith(("E:", "W:")) and "unsandboxed" not in ln]
    text = "; ".join(lines) or output.strip()[-200:]
    if "Unable to locate package" in text or "has no installation candidate" in text:
        text += " (not in this machine's apt sources: check apt-cache policy; MBROLA voices are outside Debian main)"
    return text[:400]


def ensure_installed(apt: Apt, packages: list[str], set_name: str, missing: list[Missing],
                     allow_install: bool) -> set[str]:
    """The packages that are installed after trying (one at a time, so one missing package
    does not stop the others); the rest go to `missing`."""
    have = set()
    for package in packages:
        if apt.installed(package):
            have.add(package)
            continue
        reason = apt.install([package]) if allow_install else "not installed (--no-install)"
        if reason is None and apt.installed(package):
            have.add(package)
        else:
            missing.append(Missing(set_name, package, reason or "apt-get install reported success, not installed"))
    return have


def package_root(apt: Apt, package: str, cache: str, set_name: str, missing: list[Missing]) -> str | None:
    """Where a data package's files are: / when installed, else unpacked in the cache."""
    if apt.installed(package):
        return "/"
    dest = os.path.join(cache, package)
    if os.path.isfile(os.path.join(dest, ".complete")):
        return dest
    reason = apt.download_extract(package, dest)
    if reason is not None:
        missing.append(Missing(set_name, package, reason))
        return None
    open(os.path.join(dest, ".complete"), "w").close()
    return dest


def ktuberling_language(path: str) -> str | None:
    """.../ktuberling/sounds/<code>/<word>.ogg -> model language, None for a theme not in the six."""
    return KTUBERLING_LANGUAGES.get(os.path.basename(os.path.dirname(path)))


def _rng(*parts) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32("/".join(map(str, parts)).encode()))


def _read_16k(path: str) -> np.ndarray:
    import soundfile as sf
    import soxr
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    return soxr.resample(x, sr, RATE, quality="HQ").astype(np.float32) if sr != RATE else x


def _sample(paths: list[str], n: int, *seed) -> list[str]:
    paths = sorted(paths)
    if len(paths) <= n:
        return paths
    idx = _rng(*seed).choice(len(paths), n, replace=False)
    return [paths[i] for i in sorted(idx)]


class Writer:
    """Writes clips under out/<set>/<language>/ and collects the manifest rows."""

    def __init__(self, out: str):
        self.out, self.rows, self.counts = out, [], {}

    def add(self, audio: np.ndarray, set_name: str, language: str, source: str, speaker: str, **extra) -> None:
        import soundfile as sf
        n = self.counts.get((set_name, language), 0)
        self.counts[(set_name, language)] = n + 1
        rel = os.path.join(set_name, language, f"{source}__{speaker}__{n:03d}.wav".replace("/", "_"))
        os.makedirs(os.path.dirname(os.path.join(self.out, rel)), exist_ok=True)
        peak = float(np.abs(audio).max()) if len(audio) else 0.0
        if peak > 1.0:
            audio = audio / peak
        sf.write(os.path.join(self.out, rel), audio, RATE, subtype="PCM_16")
        self.rows.append({"path": rel, "set": set_name, "language": language, "source": source,
                          "speaker": speaker, "duration_s": round(len(audio) / RATE, 3), **extra})


def _demo_generator():
    spec = importlib.util.spec_from_file_location("demo_generate_corpus", os.path.join(DEMO, "generate_corpus.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return sys.modules[spec.name]


def new_sentences() -> dict[str, list[str]]:
    """bench/unseen_sentences.py less any sentence the demo corpus has (compared trimmed)."""
    from bench.unseen_sentences import SENTENCES
    out = {}
    for language, sentences in SENTENCES.items():
        path = os.path.join(DEMO, "sentences", f"{language}.txt")
        seen = {ln.strip() for ln in open(path, encoding="utf-8")} if os.path.exists(path) else set()
        out[language] = [s for s in sentences if s.strip() not in seen]
    return out


def build_espeak_new(writer: Writer, apt: Apt, missing: list[Missing], allow_install: bool, **_) -> None:
    if not ensure_installed(apt, ["espeak-ng"], "espeak_new", missing, allow_install):
        return
    gen = _demo_generator()
    exe = shutil.which("espeak-ng")
    speakers = gen.SPEAKERS
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "clip.wav")
        from pathlib import Path
        for lang in gen.LANGUAGES:
            for i, text in enumerate(new_sentences().get(lang.name, [])):
                for spk in (speakers[i % len(speakers)], speakers[(i + len(speakers) // 2) % len(speakers)]):
                    rate = int(round(spk.rate * lang.rate_factor))
                    got = gen.render(exe, lang, spk, rate, spk.pitch, text, Path(wav))
                    if got is None:
                        missing.append(Missing("espeak_new", f"{lang.name} {spk.variant}",
                                               f"{text!r} did not fit 2-6 s"))
                        continue
                    audio, used_rate = got
                    writer.add(audio.astype(np.float32), "espeak_new", lang.name, "espeak-ng",
                               gen.speaker_id(lang, spk), text=text, voice=gen.voice_name(lang, spk),
                               rate_wpm=used_rate)


def _synth_clip(cmd: list[str], text: str, wav: str, stdin: bool = True) -> np.ndarray | None:
    if os.path.exists(wav):
        os.remove(wav)
    proc = subprocess.run(cmd, input=text.encode() if stdin else None, capture_output=True)
    if proc.returncode != 0 or not os.path.exists(wav) or os.path.getsize(wav) < 1000:
        return None
    return _finish(_read_16k(wav))


def _finish(x: np.ndarray) -> np.ndarray:
    """Trim silence at the ends (as the demo corpus does) and bring the peak to -3 dBFS."""
    frame = RATE // 100
    n = len(x) // frame
    if n:
        rms = np.sqrt(np.mean(x[:n * frame].reshape(n, frame) ** 2, axis=1) + 1e-12)
        loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > -40)
        pad = int(0.08 * RATE)
        x = x[max(0, loud[0] * frame - pad):min(len(x), (loud[-1] + 1) * frame + pad)]
    peak = float(np.abs(x).max()) if len(x) else 0.0
    return (x * (10 ** (-3 / 20) / peak)).astype(np.float32) if peak > 0 else x


def _speak_each(writer: Writer, missing: list[Missing], texts: list[str], command, wav: str, *, engine: str,
                voice: str, language: str, package: str, stdin: bool = True) -> None:
    """One clip a text from `command(text)`; a text the synthesizer gives no audio for is reported."""
    for text in texts:
        audio = _synth_clip(command(text), text, wav, stdin=stdin)
        if audio is None:
            missing.append(Missing("other_synth", f"{engine} {voice}", f"no audio for {text!r}"))
            continue
        source = "mbrola" if engine == "espeak-ng" else engine
        writer.add(audio, "other_synth", language, source, voice, text=text, package=package)


def build_other_synth(writer: Writer, apt: Apt, missing: list[Missing], allow_install: bool, **_) -> None:
    sentences = new_sentences()
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "clip.wav")
        if ensure_installed(apt, ["festival"], "other_synth", missing, allow_install):
            have = ensure_installed(apt, [p for p, _, _ in FESTIVAL_VOICES], "other_synth", missing, allow_install)
            for package, voice, language in FESTIVAL_VOICES:
                if package in have:
                    _speak_each(writer, missing, sentences[language],
                                lambda text, v=voice: ["text2wave", "-eval", f"(voice_{v})", "-o", wav], wav,
                                engine="festival", voice=voice, language=language, package=package)
        if ensure_installed(apt, ["flite"], "other_synth", missing, allow_install):
            for voice in FLITE_VOICES:
                _speak_each(writer, missing, sentences["English"],
                            lambda text, v=voice: ["flite", "-voice", v, "-t", text, "-o", wav], wav,
                            engine="flite", voice=voice, language="English", package="flite", stdin=False)
        if ensure_installed(apt, ["espeak-ng"], "other_synth", missing, allow_install):
            have = ensure_installed(apt, [p for p, _, _ in MBROLA_VOICES], "other_synth", missing, allow_install)
            for package, voice, language in MBROLA_VOICES:
                if package in have:
                    _speak_each(writer, missing, sentences[language],
                                lambda text, v=voice: ["espeak-ng", "-v", v, "-w", wav, "--stdin"], wav,
                                engine="espeak-ng", voice=voice, language=language, package=package)


def build_human_words(writer: Writer, apt: Apt, missing: list[Missing], cache: str, per_language: int, **_) -> None:
    root = package_root(apt, "ktuberling-data", cache, "human_words", missing)
    if root is None:
        return
    files = glob.glob(os.path.join(root, "usr/share/ktuberling/sounds/*/*"))
    by_language: dict[str, list[str]] = {}
    for path in files:
        language = ktuberling_language(path)
        if language and path.endswith((".ogg", ".wav", ".flac")):
            by_language.setdefault(language, []).append(path)
    for language in LANGUAGES:
        if language not in by_language:
            missing.append(Missing("human_words", f"{language} (ktuberling-data)", "no sound theme in this language"))
    for language, paths in sorted(by_language.items()):
        code = os.path.basename(os.path.dirname(paths[0]))
        for path in _sample(paths, per_language, "ktuberling", language):
            writer.add(_read_16k(path), "human_words", language, "ktuberling", f"ktuberling-{code}",
                       text=os.path.splitext(os.path.basename(path))[0], package="ktuberling-data")


def _asterisk_prompts(writer: Writer, apt: Apt, missing: list[Missing], cache: str, per_language: int,
                      packages: dict, set_name: str, min_seconds: float = 1.5) -> None:
    """`per_language` phrases (at least `min_seconds`: not digits or single words) of each voice."""
    import soundfile as sf
    for package, (language, folder) in packages.items():
        root = package_root(apt, package, cache, set_name, missing)
        if root is None:
            continue
        paths = [p for p in glob.glob(os.path.join(root, "usr/share/asterisk/sounds", folder, "*.wav"))
                 if sf.info(p).duration >= min_seconds]
        for path in _sample(paths, per_language, package):
            writer.add(_read_16k(path), set_name, language, "asterisk", folder,
                       text=os.path.splitext(os.path.basename(path))[0], package=package, telephone_8khz=True)


def build_human_out_of_set(writer: Writer, apt: Apt, missing: list[Missing], cache: str, per_language: int,
                           **_) -> None:
    _asterisk_prompts(writer, apt, missing, cache, per_language, ASTERISK_OUT_OF_SET, "human_out_of_set")


def build_human_sentences(writer: Writer, apt: Apt, missing: list[Missing], cache: str, per_language: int,
                          **_) -> None:
    _asterisk_prompts(writer, apt, missing, cache, per_language, ASTERISK, "human_sentences")
    root = package_root(apt, "pocketsphinx-testdata", cache, "human_sentences", missing)
    if root is not None:
        for path in sorted(glob.glob(os.path.join(root, "usr/share/pocketsphinx/test/data/librivox/*.wav"))):
            writer.add(_read_16k(path), "human_sentences", "English", "librivox", "librivox-austen",
                       text=os.path.basename(path), package="pocketsphinx-testdata")
    for language in ("German", "Chinese"):
        missing.append(Missing("human_sentences", language,
                               "no Debian main package with human read speech in this language was found"))


BUILDERS = {"espeak_new": build_espeak_new, "other_synth": build_other_synth,
            "human_words": build_human_words, "human_sentences": build_human_sentences,
            "human_out_of_set": build_human_out_of_set}


def build(out: str, sets=SETS, apt: Apt | None = None, allow_install: bool = True, per_language: int = 40,
          cache: str | None = None) -> dict:
    """Build the sets into out/ (manifest.jsonl, build_report.json); returns the report."""
    apt = apt or Apt()
    cache = cache or os.path.join(out, ".debs")
    writer, missing = Writer(out), []
    for name in sets:
        if name not in BUILDERS:
            raise ValueError(f"unknown set {name!r}: one of {', '.join(BUILDERS)}")
        try:
            BUILDERS[name](writer, apt=apt, missing=missing, allow_install=allow_install, cache=cache,
                           per_language=per_language)
        except Exception as err:  # noqa: BLE001 - one broken source must not lose the other sets
            missing.append(Missing(name, "the whole set", f"{type(err).__name__}: {err}"))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "manifest.jsonl"), "w", encoding="utf-8") as f:
        for row in sorted(writer.rows, key=lambda r: r["path"]):
            f.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    counts: dict[str, dict[str, int]] = {}
    for (set_name, language), n in sorted(writer.counts.items()):
        counts.setdefault(set_name, {})[language] = n
    report = {"clips": counts, "missing": [dataclasses.asdict(m) for m in missing]}
    with open(os.path.join(out, "build_report.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1, ensure_ascii=False)
    return report


def read_manifest(directory: str) -> list[dict]:
    with open(os.path.join(directory, "manifest.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="directory for the clips, manifest.jsonl and build_report.json")
    p.add_argument("--sets", default=",".join(SETS), help="comma-separated, of " + ", ".join(SETS))
    p.add_argument("--per-language", type=int, default=40, help="human clips sampled a language (seeded)")
    p.add_argument("--no-install", action="store_true", help="never run apt-get install (downloads still allowed)")
    p.add_argument("--cache", default=None, help="where data packages are unpacked (default OUT/.debs)")
    args = p.parse_args(argv)
    report = build(args.out, [s for s in args.sets.split(",") if s], allow_install=not args.no_install,
                   per_language=args.per_language, cache=args.cache)
    for set_name, by_language in report["clips"].items():
        print(f"{set_name}: " + ", ".join(f"{lang} {n}" for lang, n in by_language.items()))
    for m in report["missing"]:
        print(f"could not get [{m['set']}] {m['what']}: {m['reason']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
