"""components/data_validator/checks.py and the duplicate-aware split, on hand-made clip records."""
from __future__ import annotations

import os

import pytest

from components.data_validator import checks as dv
from components.speaker_split import Clip, assign_clip_splits, assign_splits
from contract import features

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA = os.path.join(ROOT, "contract", "validation_schema.pbtxt")


def record(key, language, speaker, fingerprint=None, **stats):
    row = {features.SOURCE_KEY: key, features.LANGUAGE: language, features.SPEAKER_ID: speaker, features.LABEL: 0,
           features.CLIP_DURATION_S: 3.0, features.CLIP_RMS_DBFS: -20.0, features.CLIP_PEAK_DBFS: -3.0,
           features.CLIP_CLIPPED_FRACTION: 0.0, features.CLIP_SILENT_FRACTION: 0.1,
           features.CLIP_SOURCE_SAMPLE_RATE: 16000, features.CLIP_SOURCE_CHANNELS: 1,
           features.CLIP_FINGERPRINT: fingerprint or f"print-{key}"}
    row.update({getattr(features, name.upper()): value for name, value in stats.items()})
    return row


def clean_corpus():
    return [record(f"{lang}/{lang[:2]}{s}__{n}.mp3", lang, f"{lang[:2]}{s}")
            for lang in ("English", "French") for s in range(4) for n in range(2)]


def test_clean_corpus_has_no_anomaly():
    report = dv.validate(clean_corpus(), dv.load_schema(SCHEMA), min_speakers=3, max_imbalance=3.0)
    assert report == {"clips_checked": 16, "errors": 0, "warnings": 0, "anomalies": []}


def test_domain_violations_name_exactly_the_clips_outside():
    rows = clean_corpus() + [record("English/x__clip.mp3", "English", "en0", clip_clipped_fraction=0.2),
                             record("English/x__edge.mp3", "English", "en0", clip_clipped_fraction=0.01),
                             record("French/x__noise.mp3", "French", "fr0", clip_silent_fraction=0.97),
                             record("French/x__mono5ch.mp3", "French", "fr0", clip_source_channels=6)]
    report = dv.validate(rows, dv.load_schema(SCHEMA), min_speakers=3, max_imbalance=3.0)
    found = {a["check"]: a for a in report["anomalies"]}
    assert found["schema:clip_clipped_fraction"]["keys"] == ["English/x__clip.mp3"]   # 0.01 is inside
    assert found["schema:clip_silent_fraction"]["keys"] == ["French/x__noise.mp3"]
    assert found["schema:clip_source_channels"]["keys"] == ["French/x__mono5ch.mp3"]
    assert all(a["severity"] == "error" for a in found.values())


def test_duplicates_conflicting_or_not():
    rows = clean_corpus() + [record("French/dup.mp3", "French", "fr9", fingerprint="same"),
                             record("English/dup.mp3", "English", "en9", fingerprint="same"),
                             record("English/again1.mp3", "English", "en1", fingerprint="twice"),
                             record("English/again2.mp3", "English", "en2", fingerprint="twice")]
    found = {a["check"]: a for a in dv.duplicate_audio(rows)}
    assert found["duplicate_audio_conflicting_labels"]["keys"] == ["English/dup.mp3", "French/dup.mp3"]
    assert found["duplicate_audio_conflicting_labels"]["severity"] == "error"
    assert found["duplicate_audio"]["keys"] == ["English/again1.mp3", "English/again2.mp3"]
    assert found["duplicate_audio"]["severity"] == "warning"


def test_speaker_in_two_languages_lists_all_their_clips():
    rows = clean_corpus()
    assert dv.speakers_in_several_languages(rows) == []
    rows.append(record("French/En1__x.mp3", "French", "En1"))      # English speaker En1, now in French
    (found,) = dv.speakers_in_several_languages(rows)
    assert found["speakers"] == {"En1": {"English": 2, "French": 1}} and found["severity"] == "warning"
    assert found["keys"] == ["English/En1__0.mp3", "English/En1__1.mp3", "French/En1__x.mp3"]
    assert found["message"] == "speaker 'En1' has clips in 2 languages (English 2, French 1)"


def test_voices_speaking_every_language_are_one_warning_that_lists_them_all():
    languages = ("Chinese", "English", "French", "German", "Russian", "Spanish")
    voices = [f"voice{v:02d}" for v in range(16)]
    rows = [record(f"{lang}/{voice}__{n}.mp3", lang, voice) for voice in voices for lang in languages
            for n in range(2)]
    report = dv.validate(rows, dv.load_schema(SCHEMA), min_speakers=3, max_imbalance=3.0)
    (found,) = [a for a in report["anomalies"] if a["check"] == "speaker_in_several_languages"]
    assert report["warnings"] == 1 and found["severity"] == "warning"
    assert found["speakers"] == {voice: {lang: 2 for lang in languages} for voice in voices}
    assert found["keys_total"] == len(rows) and len(found["keys"]) == dv.MAX_KEYS
    assert found["message"].startswith("16 speakers have clips in several languages: 'voice00' (6 languages), ")
    assert "and 13 more" in found["message"]
    (line,) = [line for line in dv.format_report(report) if "speaker_in_several_languages" in line]
    assert "16 speakers" in line


def test_too_few_speakers_and_imbalance():
    rows = clean_corpus() + [record(f"German/de0__{n}.mp3", "German", "de0") for n in range(2)]
    rows += [record(f"Spanish/es{s}__0.mp3", "Spanish", f"es{s}") for s in range(2)]
    few = {a["language"]: a for a in dv.too_few_speakers(rows, min_speakers=3)}
    assert few["German"]["severity"] == "error" and few["Spanish"]["severity"] == "warning"
    assert set(few) == {"German", "Spanish"}
    assert few["German"]["keys"] == ["German/de0__0.mp3", "German/de0__1.mp3"]
    # 8 English clips vs 2 German / 2 Spanish: 4x > 3x; French (8) is fine.
    assert {a["language"] for a in dv.imbalance(rows, max_ratio=3.0)} == {"German", "Spanish"}
    assert dv.imbalance(rows, max_ratio=4.0) == []


def test_keys_are_capped_but_counted():
    keys = [f"k{i:03d}" for i in range(dv.MAX_KEYS + 7)]
    entry = dv.anomaly("x", dv.WARNING, "m", keys)
    assert len(entry["keys"]) == dv.MAX_KEYS and entry["keys_total"] == dv.MAX_KEYS + 7


def clips_of(speakers_per_language: int = 5):
    return [Clip(f"{lang}/{lang[:2]}{s}__{n}.mp3", lang, i, f"{lang[:2]}{s}")
            for i, lang in enumerate(("English", "French", "German"))
            for s in range(speakers_per_language) for n in range(2)]


def test_split_without_duplicates_equals_the_speaker_split():
    clips = clips_of()
    by_speaker = assign_splits(clips, 0.25, seed=3)
    assert assign_clip_splits(clips, {c.key: f"p-{c.key}" for c in clips}, 0.25, 3) == {
        c.key: by_speaker[c.speaker_id] for c in clips}


@pytest.mark.parametrize("seed", range(20))
def test_duplicates_never_straddle_the_split(seed):
    clips = clips_of()
    by_speaker = assign_splits(clips, 0.25, seed=seed)
    train = next(c for c in clips if by_speaker[c.speaker_id] == "train")
    evaluation = next(c for c in clips if by_speaker[c.speaker_id] == "eval" and c.language != train.language)
    prints = {c.key: f"p-{c.key}" for c in clips}
    prints[evaluation.key] = prints[train.key]          # the same audio under both
    split_of = assign_clip_splits(clips, prints, 0.25, seed)
    assert split_of[train.key] == split_of[evaluation.key]
    # Whole speakers still: every clip of a speaker shares its split.
    for speaker in {c.speaker_id for c in clips}:
        assert len({split_of[c.key] for c in clips if c.speaker_id == speaker}) == 1
    # And every language still has an eval speaker.
    assert {c.language for c in clips if split_of[c.key] == "eval"} == {"English", "French", "German"}
