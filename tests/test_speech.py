"""Speech / no speech: silence, white and pink noise (steady or level-modulated), a steady tone and
a chord are not speech; the demo corpus's real (espeak) speech and the synthetic languages are;
the serving graph's core-ops version agrees with audio/speech.py window by window."""
from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import soundfile
import soxr
import tensorflow as tf

from audio import speech
from models.keras_model.signatures import speech_flags
from tests.helpers.synthetic_corpus import synth_clip

RATE = 16000
DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "demo")


def _non_speech() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(3 * RATE) / RATE
    white = rng.standard_normal(3 * RATE)
    spectrum = np.fft.rfft(white)
    spectrum[1:] /= np.sqrt(np.arange(1, len(spectrum)))
    pink = np.fft.irfft(spectrum)
    return {
        "silence": np.zeros(3 * RATE),
        "white noise": 0.3 * white,
        "quiet white noise": 0.01 * white,
        "pink noise": 0.3 * pink / np.abs(pink).max(),
        "tone": 0.5 * np.sin(2 * np.pi * 440 * t),
        "chord": sum(0.2 * np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0)),
        "tone then silence": np.where(t < 1.5, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0),
        # Level swinging 20 dB at a syllable rate (passes the modulation test): only the
        # spectrum's flatness tells this noise from speech.
        "noise at a syllable rate": 0.3 * white * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t)),
    }


def _demo_speech(count: int = 6) -> list[np.ndarray]:
    windows = []
    for path in sorted(glob.glob(os.path.join(DEMO, "*", "*.mp3")))[::40][:count]:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
        windows.append(soxr.resample(samples.mean(axis=1), rate, RATE)[: 3 * RATE])
    return windows


@pytest.mark.parametrize("name", list(_non_speech()))
def test_non_speech_sounds_are_not_speech(name):
    assert not speech.window_has_speech(_non_speech()[name].astype(np.float32), RATE)


def test_real_and_synthetic_speech_is_speech():
    demo = _demo_speech()
    assert len(demo) >= 4
    synthetic = [synth_clip(lang, 7, 3.0, RATE, np.random.default_rng(1)) for lang in ("English", "French", "German")]
    assert all(speech.window_has_speech(w, RATE) for w in demo + synthetic)


def test_speech_with_moderate_noise_is_still_speech():
    rng = np.random.default_rng(2)
    for window in _demo_speech(4):
        noise = rng.standard_normal(len(window))
        noise *= np.sqrt(np.mean(window**2) / np.mean(noise**2)) * 10 ** (-10 / 20)   # 10 dB SNR
        assert speech.window_has_speech((window + noise).astype(np.float32), RATE)


def test_graph_detector_agrees_with_the_reference_on_every_window_and_real_length():
    windows = [w.astype(np.float32) for w in _non_speech().values()] + _demo_speech(4)
    windows = [np.pad(w, (0, 3 * RATE - len(w))) for w in windows]
    # real lengths: whole windows, and cut ones (the rest zero, as the graph pads a recording's last window)
    lengths = [3 * RATE] * len(windows) + [int(0.2 * RATE)] * len(windows) + [int(1.3 * RATE)] * len(windows)
    batch = np.stack([np.where(np.arange(3 * RATE) < n, w, 0.0) for n, w in zip(lengths, windows * 3)])
    got = speech_flags(tf.constant(batch, tf.float32), tf.constant(lengths), RATE).numpy()
    expected = [speech.window_has_speech(row[:n], RATE) for row, n in zip(batch, lengths)]
    assert got.tolist() == expected
    assert any(expected) and not all(expected)


def test_trim_keeps_the_active_span_only():
    voice = synth_clip("English", 7, 1.0, RATE, np.random.default_rng(3))
    padded = np.concatenate([np.zeros(RATE // 2, np.float32), voice, np.zeros(RATE, np.float32)])
    trimmed = speech.trim(padded, RATE)
    frame = speech.frame_samples(RATE)
    assert abs(len(trimmed) - len(voice)) <= 2 * frame
    assert speech.trim(np.zeros(RATE, np.float32), RATE).size == 0
