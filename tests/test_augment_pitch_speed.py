"""Pitch and speed augmentations (audio/augment/pitch_speed.py): tones move by the pitch ratio, a phase
vocoder changes tempo but not pitch."""
from __future__ import annotations

import numpy as np
import pytest

from audio import augment as A
from audio import spectral_effects
from tests.helpers.audio_signals import SR, peak_freq, tone


@pytest.mark.parametrize("semitones", [-3.0, -1.5, 1.0, 2.0, 3.0])
def test_pitch_scale_moves_tone_and_keeps_length(semitones):
    w = tone(440.0)
    out = A.pitch_scale(w, SR, semitones)
    assert out.shape == w.shape and out.dtype == np.float32
    expected = 440.0 * 2 ** (semitones / 12)
    assert peak_freq(out) == pytest.approx(expected, rel=0.01)
    # The tone must not simply stay put (1 semitone ~ 6%, far outside 1%).
    assert abs(peak_freq(out) - 440.0) > 0.03 * 440.0


def test_pitch_scale_zero_is_identity():
    w = tone(440.0)
    np.testing.assert_array_equal(A.pitch_scale(w, SR, 0.0), w)


@pytest.mark.parametrize("rate", [0.8, 0.9, 1.15, 1.25])
def test_time_stretch_changes_length_by_the_rate_and_keeps_pitch(rate):
    w = tone(440.0)
    out = spectral_effects.time_stretch(w, rate)
    assert len(out) == round(len(w) / rate)
    assert peak_freq(out) == pytest.approx(440.0, rel=0.005)
    # In the augmentation, the length is restored but the tone still does not move.
    fitted = A.time_stretch(w, SR, rate)
    assert fitted.shape == w.shape and peak_freq(fitted) == pytest.approx(440.0, rel=0.005)


def test_time_stretch_changes_tempo_of_a_pulse_train():
    """Onsets 0.25 s apart end 0.25 / rate apart: time scales, not just the length."""
    w = np.zeros(SR, np.float32)
    for start in range(0, SR, SR // 4):
        w[start:start + 800] = tone(1000.0, 0.05)
    out = spectral_effects.time_stretch(w, 1.25)
    env = np.convolve(np.abs(out), np.ones(160) / 160, mode="same")
    env -= env.mean()
    lags = np.arange(int(0.1 * SR), int(0.35 * SR))
    autocorr = [np.dot(env[:-lag], env[lag:]) for lag in lags]
    assert lags[int(np.argmax(autocorr))] / SR == pytest.approx(0.25 / 1.25, rel=0.03)
