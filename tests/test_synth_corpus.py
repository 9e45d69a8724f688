"""The scale benchmark's corpus generator: clip lengths, speakers and manifest as asked."""
from __future__ import annotations

import json
import os

import pytest
import soundfile

from bench.synth_corpus import OUTPUT_RATE, generate, parse_clip_seconds
from config import DEMO_CORPUS_DIR


def _rows(path):
    with open(os.path.join(path, "manifest.jsonl")) as f:
        return [json.loads(line) for line in f]


def test_speaker_clips_last_as_long_as_asked_and_hold_one_voice(tmp_path):
    seconds = generate(DEMO_CORPUS_DIR, str(tmp_path), minutes=0.5, clip_seconds=(8.0, 12.0))
    rows = _rows(tmp_path)
    assert seconds >= 30 and sum(r["seconds"] for r in rows) == pytest.approx(seconds, abs=0.01)
    for row in rows:
        info = soundfile.info(os.path.join(tmp_path, row["key"]))
        assert (info.samplerate, info.channels) == (OUTPUT_RATE, 2)
        assert info.duration == pytest.approx(row["seconds"], abs=0.1)
        # Sentences are added until the drawn length is reached: at least 8 s, at most one sentence (< 7 s) past 12 s.
        assert 8.0 - 0.4 <= row["seconds"] < 12.0 + 7.0 and row["sentences"] >= 2
        assert row["key"].startswith(f"{row['language']}/") and row["speaker_id"].endswith("_v0")
    # one clip per variant speaker and language (the demo's espeak voices speak several languages)
    assert len({(r["language"], r["speaker_id"]) for r in rows}) == len(rows)
    assert len({r["language"] for r in rows}) > 1                  # speakers interleave the languages


def test_sentence_clips_keep_the_demo_shape(tmp_path):
    generate(DEMO_CORPUS_DIR, str(tmp_path), minutes=0.2, clip_seconds=None)
    rows = _rows(tmp_path)
    assert all(r["seconds"] < 8.0 and "sentences" not in r for r in rows) and len(rows) >= 2


def test_clip_seconds_are_parsed_and_checked(tmp_path):
    assert parse_clip_seconds("30-120") == (30.0, 120.0) and parse_clip_seconds("sentence") is None
    with pytest.raises(ValueError, match="clip_seconds"):
        generate(DEMO_CORPUS_DIR, str(tmp_path), minutes=0.1, clip_seconds=(10.0, 5.0))
