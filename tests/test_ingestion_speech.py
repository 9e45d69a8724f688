"""Ingestion keeps exactly the windows serving would not call no_speech (one speech definition)."""
from __future__ import annotations

import io
import json
import os
import uuid

import numpy as np
import pytest
import soundfile

from audio import speech
from audio.segment import fixed_segments
from components.s3_audio_example_gen.report import REPORT_NAME
from storage import s3
from storage.corpus import upload_corpus
from tests.helpers.ingestion import RATE, _props, _records, _run
from tests.helpers.synthetic_corpus import synth_clip

MIXED_KEY = "clips/English/en-s1__900.wav"   # an existing speaker, so the split is unchanged


def _mixed_clip() -> np.ndarray:
    """1 s of loud white noise, 1 s of silence, 2.25 s of syllable-like speech: 4.25 s at 16 kHz.

    1 s windows every 0.5 s (starts 0, 0.5, ..., 3.0 s and a partial last one at 3.5 s holding
    0.75 s): by hand, the windows at 0, 0.5 and 1.0 s hold only noise and silence, those from
    1.5 s on hold at least 0.5 s of speech."""
    rng = np.random.default_rng(7)
    noise = (0.1 * rng.standard_normal(RATE)).astype(np.float32)          # -20 dBFS, flat spectrum
    silence = np.zeros(RATE, np.float32)
    talk = synth_clip("English", 1, 2.25, RATE, rng)
    return np.concatenate([noise, silence, talk])


@pytest.fixture(scope="module")
def ingested(tmp_path_factory, s3_endpoint, tiny_corpus):
    """The tiny corpus plus the mixed clip, ingested once: (kept windows of the mixed clip by index, report)."""
    name = f"speech-{uuid.uuid4().hex[:8]}"
    client = s3.make_client()
    upload_corpus(client, name, tiny_corpus[0], prefix="clips/")
    out = io.BytesIO()
    soundfile.write(out, _mixed_clip(), RATE, format="WAV", subtype="FLOAT")
    s3.put_bytes(client, name, MIXED_KEY, out.getvalue())
    examples = _run(tmp_path_factory.mktemp("speech"), _props(name))
    records = [r for r in _records(examples, "train") + _records(examples, "eval") if r["key"] == MIXED_KEY]
    with open(os.path.join(examples.uri, REPORT_NAME)) as f:
        report = json.load(f)
    return {r["index"]: r for r in records}, report


def _ingestion_windows() -> tuple[list[np.ndarray], list[int]]:
    """The mixed clip's windows as ingestion cuts them, and each one's real length (the rest is padding)."""
    clip = _mixed_clip()
    voiced = speech.trim(clip, RATE)
    np.testing.assert_array_equal(voiced, clip[: len(voiced)])              # the noise is active: kept at the start
    windows = fixed_segments(voiced, RATE, RATE // 2)
    real = [min(RATE, len(voiced) - i * RATE // 2) for i in range(len(windows))]
    assert len(windows) == 8 and real[-1] < RATE                            # a partial last window
    return windows, real


def test_clip_with_silence_noise_and_speech_keeps_only_its_speech_windows(ingested):
    kept, report = ingested
    assert sorted(kept) == [3, 4, 5, 6, 7]                                  # the hand count in _mixed_clip
    windows, real = _ingestion_windows()
    for index, record in kept.items():                                      # index = the window's place in the clip
        np.testing.assert_allclose(record["waveform"], windows[index], atol=1e-6)
        assert round(record["duration_s"], 3) == round(real[index] / RATE, 3)
    dropped = {language: entry["no_speech_windows"] for split in report["per_split"].values()
               for language, entry in split.items() if entry["no_speech_windows"]}
    assert dropped == {"English": 3}                                        # the tiny corpus is speech throughout


def test_ingestion_keeps_exactly_the_windows_serving_calls_speech(ingested):
    import tensorflow as tf

    from models.keras_model.signatures import speech_flags

    windows, real = _ingestion_windows()
    serving = speech_flags(tf.constant(np.stack(windows)), tf.constant(real), RATE).numpy()
    assert sorted(ingested[0]) == [i for i, flag in enumerate(serving) if flag]
