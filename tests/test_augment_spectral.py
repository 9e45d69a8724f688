"""Spectral-shape augmentations (audio/augment/spectral.py): high-pass filtering and VTLP."""
from __future__ import annotations

import numpy as np
import pytest

from audio import augment as A
from audio import spectral_effects
from tests.helpers.audio_signals import SR, band_energy_db, centroid_hz, formant_voice, tone


@pytest.mark.parametrize("cutoff_hz", [200.0, 400.0])
def test_high_pass_removes_50hz_keeps_1khz(cutoff_hz):
    low, high = tone(50.0), tone(1000.0)
    out_low = A.high_pass(low, SR, cutoff_hz)
    out_high = A.high_pass(high, SR, cutoff_hz)
    assert band_energy_db(low, 50) - band_energy_db(out_low, 50) > 20.0
    assert abs(band_energy_db(out_high, 1000) - band_energy_db(high, 1000)) < 1.0
    # On a mixture the 50 Hz part goes and the 1 kHz part stays.
    mix = (low + high) / 2
    out_mix = A.high_pass(mix, SR, cutoff_hz)
    assert band_energy_db(mix, 50) - band_energy_db(out_mix, 50) > 20.0
    assert abs(band_energy_db(out_mix, 1000) - band_energy_db(mix, 1000)) < 1.0
    assert out_mix.dtype == np.float32 and out_mix.shape == mix.shape


def test_high_pass_rejects_cutoff_above_nyquist():
    with pytest.raises(ValueError):
        A.high_pass(tone(100.0), SR, SR / 2)


@pytest.mark.parametrize("alpha", [0.9, 1.1, 1.2])
def test_vtlp_moves_formant_energy_by_alpha(alpha):
    w = formant_voice(1000.0)
    out = spectral_effects.vtlp(w, SR, alpha)
    assert out.shape == w.shape
    ratio = centroid_hz(out) / centroid_hz(w)
    assert ratio == pytest.approx(alpha, rel=0.06)
    assert abs(ratio - 1.0) > 0.06   # moved, not left in place


def test_vtlp_warp_is_piecewise_linear_and_ends_at_nyquist():
    freqs = np.array([0.0, 1000.0, 3000.0, SR / 2])
    np.testing.assert_allclose(spectral_effects.vtlp_warp(freqs, 1.1, SR)[:3], freqs[:3] * 1.1)
    assert spectral_effects.vtlp_warp(freqs, 1.1, SR)[-1] == pytest.approx(SR / 2)
    assert spectral_effects.vtlp_warp(freqs, 0.9, SR)[-1] == pytest.approx(SR / 2)
