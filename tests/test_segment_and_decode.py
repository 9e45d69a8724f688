"""Decoding and segmentation on signals whose answer is known by construction."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from audio.decode import DecodeError, decode_audio
from audio.segment import fixed_segments

RATE = 16000


def tone(seconds: float, rate: int = RATE, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="WAV", subtype="FLOAT")
    return out.getvalue()


def test_fixed_segments_reject_bad_lengths_and_keep_empty_input_empty():
    assert fixed_segments(np.zeros(0, np.float32), RATE, RATE // 2) == []
    with pytest.raises(ValueError):
        fixed_segments(np.ones(10, np.float32), 0, 5)


def test_decode_downmixes_and_resamples_to_the_pipeline_rate():
    rate = 44100
    left, right = tone(1.0, rate, freq=1000.0, amplitude=0.6), tone(1.0, rate, freq=1000.0, amplitude=0.2)
    out = decode_audio(wav(np.stack([left, right], axis=1), rate), RATE)
    assert out.dtype == np.float32 and out.shape == (RATE,)
    spectrum = np.abs(np.fft.rfft(out)) / (len(out) / 2)
    assert np.argmax(spectrum) == 1000                     # 1 Hz bins: the tone stays at 1 kHz
    assert spectrum[1000] == pytest.approx(0.4, abs=0.01)  # the mean of the two channels


@pytest.mark.parametrize("channels", [1, 2, 3, 6])
def test_decode_downmix_is_the_mean_of_the_channels_sample_by_sample(channels):
    rng = np.random.default_rng(channels)
    samples = rng.uniform(-0.5, 0.5, size=(RATE // 4, channels)).astype(np.float32)
    out = decode_audio(wav(samples, RATE), RATE)   # same rate: no resampling, only the downmix
    np.testing.assert_allclose(out, samples.astype(np.float64).mean(axis=1), atol=1e-6)


@pytest.mark.parametrize("data, reason", [
    (b"", "empty object"),
    (b"<!DOCTYPE html><html><body>503</body></html>", "not audio"),
    (b'{"error": "NoSuchKey"}', "not audio"),
    (bytes(range(256)) * 8, "undecodable audio"),
])
def test_decode_rejects_what_is_not_audio_with_a_reason(data, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_audio(data, RATE)
