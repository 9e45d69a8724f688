"""S3AudioExampleGen against the embedded S3 endpoint: bad objects, the split, the records."""
from __future__ import annotations

import io
import json
import os
import uuid

import numpy as np
import pytest
import soundfile
import soxr

from audio import speech
from components.s3_audio_example_gen.fetch_segment import NO_SPEECH_REASON
from components.s3_audio_example_gen.report import REPORT_NAME
from storage import s3
from storage.corpus import upload_corpus
from tests.helpers.ingestion import LANGUAGES, RATE, _props, _records, _run


def _blip_wav() -> bytes:
    """1 s of a WAV file whose only sound is a 50 ms tone: no window of it holds speech (audio/speech.py)."""
    t = np.arange(RATE) / RATE
    audio = np.where((t >= 0.5) & (t < 0.55), 0.5 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
    out = io.BytesIO()
    soundfile.write(out, audio, RATE, format="WAV")
    return out.getvalue()


def _reference_waveform(path: str) -> np.ndarray:
    """The clip decoded here, with soundfile and soxr directly: mono at 16 kHz."""
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    return soxr.resample(samples.mean(axis=1), rate, RATE, quality="HQ")


@pytest.fixture()
def bucket(s3_endpoint, tiny_corpus):
    """A fresh bucket with the tiny corpus under clips/, plus bad and stray objects."""
    name = f"ingest-{uuid.uuid4().hex[:8]}"
    client = s3.make_client()
    upload_corpus(client, name, tiny_corpus[0], prefix="clips/")
    s3.put_bytes(client, name, "clips/English/broken.mp3", np.random.default_rng(1).bytes(4000))
    s3.put_bytes(client, name, "clips/French/error_page.mp3",
                 b"<!DOCTYPE html><html><body><h1>503 Service Unavailable</h1></body></html>")
    s3.put_bytes(client, name, "clips/German/empty.mp3", b"")
    s3.put_bytes(client, name, "clips/German/blip.wav", _blip_wav())
    s3.put_bytes(client, name, "clips/Klingon/hello.mp3", b"ID3 not really")
    s3.put_bytes(client, name, "clips/English/notes.txt", b"not audio")
    return name


def test_bad_objects_are_skipped_and_reported_the_rest_ingested(tmp_path, bucket, tiny_corpus):
    examples = _run(tmp_path, _props(bucket))
    with open(os.path.join(examples.uri, REPORT_NAME)) as f:
        report = json.load(f)

    skipped = {row["key"]: row["reason"] for row in report["skipped"]}
    assert set(skipped) == {"clips/English/broken.mp3", "clips/French/error_page.mp3", "clips/German/empty.mp3",
                            "clips/German/blip.wav"}
    assert skipped["clips/German/blip.wav"] == NO_SPEECH_REASON
    assert "HTML" in skipped["clips/French/error_page.mp3"]
    assert skipped["clips/German/empty.mp3"] == "empty object"
    assert skipped["clips/English/broken.mp3"].startswith("undecodable audio")
    assert report["ignored_objects"] == {"not_audio": 1, "unlisted_language": 1}
    assert report["ignored_keys"] == {"not_audio": ["clips/English/notes.txt"],
                                      "unlisted_language": ["clips/Klingon/hello.mp3"]}

    records = _records(examples, "train") + _records(examples, "eval")
    expected_keys = {"clips/" + row["key"] for row in tiny_corpus[1]}
    assert {r["key"] for r in records} == expected_keys
    for r in records:
        assert r["waveform"].shape == (RATE,)          # 1.0 s segments
        assert np.all(np.isfinite(r["waveform"])) and np.abs(r["waveform"]).max() <= 1.0
        assert LANGUAGES[r["label"]] == r["language"]
        assert r["key"].startswith(f"clips/{r['language']}/")
    # 2.5 s clips with no silence to trim, 1 s windows every 0.5 s: starts 0, 0.5, 1.0 and 1.5 s,
    # the last one ending at the clip's end, each of them speech (checked below with audio/speech.py
    # on the clip as decoded here, so no window is dropped). Each segment is that stretch of the clip.
    per_clip = {}
    for r in records:
        per_clip.setdefault(r["key"], {})[r["index"]] = r["waveform"]
    assert all(sorted(v) == [0, 1, 2, 3] for v in per_clip.values())
    for key in sorted(per_clip)[:6]:
        reference = _reference_waveform(os.path.join(tiny_corpus[0], key[len("clips/"):]))
        assert len(reference) == int(2.5 * RATE)
        starts = range(0, 2 * RATE, RATE // 2)
        assert all(speech.window_has_speech(reference[start:start + RATE], RATE) for start in starts)
        for index, segment in per_clip[key].items():
            start = index * RATE // 2
            np.testing.assert_allclose(segment, reference[start:start + RATE], atol=1e-6)
    assert report["segments"]["train"] + report["segments"]["eval"] == len(records)


def test_split_is_speaker_disjoint_and_uses_the_manifest(tmp_path, bucket, tiny_corpus):
    examples = _run(tmp_path, _props(bucket))
    train, evaluation = _records(examples, "train"), _records(examples, "eval")
    train_speakers = {r["speaker"] for r in train}
    eval_speakers = {r["speaker"] for r in evaluation}
    assert train_speakers and eval_speakers
    assert not train_speakers & eval_speakers
    manifest_speaker = {"clips/" + row["key"]: row["speaker_id"] for row in tiny_corpus[1]}
    assert all(manifest_speaker[r["key"]] == r["speaker"] for r in train + evaluation)
    # Every language is evaluated: one of its four speakers (0.25) is held out.
    for language in LANGUAGES:
        held_out = {r["speaker"] for r in evaluation if r["language"] == language}
        assert len(held_out) == 1


def test_same_seed_same_split_other_seed_other_split(tmp_path, bucket):
    def eval_speakers(path, seed):
        return {r["speaker"] for r in _records(_run(path, _props(bucket, split_seed=seed)), "eval")}

    first = eval_speakers(tmp_path / "a", 3)
    assert eval_speakers(tmp_path / "b", 3) == first
    assert any(eval_speakers(tmp_path / f"s{seed}", seed) != first for seed in (4, 5, 6))


def test_speaker_falls_back_to_file_name_without_manifest(tmp_path, s3_endpoint, tiny_corpus):
    name = f"nomanifest-{uuid.uuid4().hex[:8]}"
    client = s3.make_client()
    s3.ensure_bucket(client, name)
    root = tiny_corpus[0]
    for row in tiny_corpus[1]:
        with open(os.path.join(root, row["key"]), "rb") as f:
            s3.put_bytes(client, name, row["key"], f.read())
    examples = _run(tmp_path, _props(name, prefix=""))
    records = _records(examples, "train") + _records(examples, "eval")
    assert {r["speaker"] for r in records} == {row["speaker_id"] for row in tiny_corpus[1]}


def test_nothing_usable_is_a_clear_error(tmp_path, s3_endpoint):
    name = f"bad-{uuid.uuid4().hex[:8]}"
    client = s3.make_client()
    s3.ensure_bucket(client, name)
    s3.put_bytes(client, name, "clips/English/a.mp3", b"<html>nope</html>")
    s3.put_bytes(client, name, "clips/French/b.mp3", b"")
    with pytest.raises(RuntimeError, match="no segments"):
        _run(tmp_path, _props(name, max_skipped_fraction=1.0))
    empty = f"empty-{uuid.uuid4().hex[:8]}"
    s3.ensure_bucket(client, empty)
    with pytest.raises(ValueError, match="no audio clips found"):
        _run(tmp_path / "e", _props(empty))
