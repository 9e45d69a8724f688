"""Level augmentations (audio/augment/level.py): gain, gain ramps, polarity."""
from __future__ import annotations

import numpy as np
import pytest

from audio import augment as A
from tests.helpers.audio_signals import rms, speechlike, tone


def test_polarity_inversion_negates_exactly():
    w = speechlike()
    out = A.invert_polarity(w)
    np.testing.assert_array_equal(out, -w)
    assert out.dtype == np.float32


@pytest.mark.parametrize("gain_db", [-6.0, -2.5, 3.0, 6.0])
def test_gain_scales_rms_by_db_amount(gain_db):
    w = tone(300.0, amplitude=0.1)  # quiet: no peak limiting
    out = A.apply_gain(w, gain_db)
    assert 20 * np.log10(rms(out) / rms(w)) == pytest.approx(gain_db, abs=1e-3)


def test_gain_keeps_peak_within_one_by_scaling_not_clipping():
    w = speechlike()  # peak 0.8; +6 dB would reach ~1.6
    out = A.apply_gain(w, 6.0)
    assert np.max(np.abs(out)) == pytest.approx(1.0, abs=1e-6)
    assert np.max(np.abs(out)) <= 1.0
    # Scaled, not clipped: the shape is kept, out is w times one constant.
    nz = np.abs(w) > 1e-3
    ratio = out[nz] / w[nz]
    np.testing.assert_allclose(ratio, 1.0 / 0.8, rtol=1e-4)


def test_volume_ramp_changes_level_linearly_in_db():
    w = tone(500.0, amplitude=0.1)
    out = A.apply_volume_ramp(w, 0.0, -12.0)
    head, tail = out[:1600], out[-1600:]
    change = 20 * np.log10(rms(tail) / rms(head))
    assert change == pytest.approx(-12.0 * (1 - 1600 / len(w)), abs=0.3)
