"""Timing augmentations (audio/augment/timing.py): masks, shifts and crops, sample-exact."""
from __future__ import annotations

import numpy as np
import pytest

from audio import augment as A
from tests.helpers.audio_signals import SR, tone


def test_time_mask_zeroes_exactly_the_span():
    w = np.linspace(0.1, 0.9, 4000, dtype=np.float32)  # nowhere zero
    out = A.time_mask(w, 1234, 567)
    assert not out[1234:1801].any()
    np.testing.assert_array_equal(out[:1234], w[:1234])
    np.testing.assert_array_equal(out[1801:], w[1801:])
    assert np.count_nonzero(out == 0) == 567
    assert np.all(w > 0)  # input untouched


def test_time_mask_rejects_span_outside_waveform():
    with pytest.raises(ValueError):
        A.time_mask(np.ones(100, np.float32), 90, 20)


def test_time_shift_moves_content_and_zero_fills():
    w = np.linspace(0.1, 0.9, 1000, dtype=np.float32)
    right = A.time_shift(w, 100)
    np.testing.assert_array_equal(right[100:], w[:900])
    assert not right[:100].any()
    left = A.time_shift(w, -250)
    np.testing.assert_array_equal(left[:750], w[250:])
    assert not left[750:].any()


def test_random_crop_keeps_the_excerpt_at_the_front_and_pads():
    w = tone(300.0)
    out = A.random_crop(w, SR, 4000, 8000)
    assert out.shape == w.shape and not out[8000:].any()
    fade = int(0.005 * SR)
    np.testing.assert_array_equal(out[fade:8000 - fade], w[4000 + fade:12000 - fade])
    assert np.max(np.abs(out[:fade])) <= np.max(np.abs(w))   # faded in, no click
