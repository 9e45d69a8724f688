"""Decoding, silence trimming and segmentation on signals whose answer is known by construction."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from audio.decode import DecodeError, decode_audio
from audio.segment import fixed_segments, trim_silence

RATE = 16000


def tone(seconds: float, rate: int = RATE, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav(samples: np.ndarray, rate: int) -> bytes:
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format="WAV", subtype="FLOAT")
    return out.getvalue()


def test_trim_silence_drops_leading_and_trailing_silence_to_the_frame():
    # 0.3 s of silence, 1.0 s of tone, 0.5 s of silence; 20 ms frames = 320 samples, and the
    # tone starts and ends on a frame boundary (0.3 s = 15 frames, 1.3 s = 65 frames).
    voiced = tone(1.0)
    quiet = 1e-4 * np.random.default_rng(0).standard_normal(int(0.8 * RATE)).astype(np.float32)   # -80 dBFS
    clip = np.concatenate([quiet[: int(0.3 * RATE)], voiced, quiet[int(0.3 * RATE):]])
    trimmed = trim_silence(clip, RATE, threshold_db=-40.0, frame_ms=20.0)
    assert len(trimmed) == len(voiced)
    np.testing.assert_array_equal(trimmed, voiced)


def test_trim_silence_keeps_quiet_speech_inside_the_clip_and_returns_empty_for_silence():
    loud, soft = tone(0.4), tone(0.4, amplitude=0.5 * 10 ** (-30 / 20))   # 30 dB down: above the -40 dB cut
    gap = np.zeros(int(0.2 * RATE), np.float32)
    clip = np.concatenate([gap, loud, gap, soft, gap])
    np.testing.assert_array_equal(trim_silence(clip, RATE), np.concatenate([loud, gap, soft]))
    assert trim_silence(np.zeros(RATE, np.float32), RATE).size == 0
    assert trim_silence(1e-5 * np.ones(RATE, np.float32), RATE).size == 0      # -100 dBFS: still silence


@pytest.mark.parametrize("seconds, hop_s, expected_starts", [
    (2.5, 0.5, [0.0, 0.5, 1.0, 1.5]),          # windows end exactly at the clip's end
    (3.1, 0.5, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]),  # audio left after the last full window: a padded one
    (0.4, 0.5, [0.0]),                         # shorter than a window: one padded window
    (2.3, 1.0, [0.0, 1.0]),                    # no overlap: 0.3 s left over, < half a window, dropped
    (2.6, 1.0, [0.0, 1.0, 2.0]),               # 0.6 s left over: kept as a padded window
])
def test_fixed_segments_cut_windows_every_hop(seconds, hop_s, expected_starts):
    n = int(round(seconds * RATE))
    ramp = np.arange(n, dtype=np.float32) + 1.0          # every sample says where it came from
    segments = fixed_segments(ramp, RATE, int(hop_s * RATE))
    assert [float(s[0] - 1.0) / RATE for s in segments] == expected_starts
    for start, segment in zip(expected_starts, segments):
        first = int(start * RATE)
        real = min(RATE, n - first)
        assert segment.shape == (RATE,)
        np.testing.assert_array_equal(segment[:real], ramp[first:first + real])
        assert not segment[real:].any()                   # zero padding after the clip's end


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


@pytest.mark.parametrize("data, reason", [
    (b"", "empty object"),
    (b"<!DOCTYPE html><html><body>503</body></html>", "not audio"),
    (b'{"error": "NoSuchKey"}', "not audio"),
    (bytes(range(256)) * 8, "undecodable audio"),
])
def test_decode_rejects_what_is_not_audio_with_a_reason(data, reason):
    with pytest.raises(DecodeError, match=reason):
        decode_audio(data, RATE)
