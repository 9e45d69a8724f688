"""audio/stats.py on signals whose statistics are known in closed form."""
from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile

from audio import stats
from audio.decode import decode_audio
from contract import features

RATE = 16000


def sine(amplitude: float, seconds: float = 1.0, hz: float = 440.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("amplitude", [1.0, 0.5, 0.1])
def test_sine_levels_are_the_textbook_values(amplitude):
    x = sine(amplitude)
    # A sine's RMS is its amplitude / sqrt(2): -3.01 dB below its peak.
    assert stats.peak_dbfs(x) == pytest.approx(20 * np.log10(amplitude), abs=0.01)
    assert stats.rms_dbfs(x) == pytest.approx(20 * np.log10(amplitude / np.sqrt(2)), abs=0.01)


def test_planted_clipping_gives_its_fraction():
    x = sine(0.5, seconds=2.0)
    rng = np.random.default_rng(0)
    planted = rng.choice(len(x), size=320, replace=False)          # 1 % of the samples
    x[planted] = np.sign(rng.standard_normal(320)).astype(np.float32)
    assert stats.clipped_fraction(x) == pytest.approx(320 / len(x))


def test_overdriven_sine_clips_the_analytic_fraction():
    # |2 sin| >= 0.99 where |sin| >= 0.495: a fraction 1 - (2/pi) arcsin(0.495) of a period.
    x = np.clip(sine(2.0, hz=50.0), -1, 1)
    assert stats.clipped_fraction(x) == pytest.approx(1 - 2 / np.pi * np.arcsin(0.495), abs=0.002)


def test_silent_fraction_counts_quiet_frames_absolute_and_relative():
    frame = RATE // 50                                   # 20 ms
    loud = sine(0.5, seconds=0.4)                         # 20 frames
    zeros = np.zeros(30 * frame, dtype=np.float32)        # 30 silent frames
    assert stats.silent_fraction(np.concatenate([loud, zeros]), RATE) == pytest.approx(30 / 50)
    # Room noise at -50 dBFS is not silent on its own, but is 44 dB below a -6 dBFS beep.
    noise = sine(10 ** (-50 / 20) * np.sqrt(2), seconds=1.8)   # 90 frames at -50 dBFS RMS
    beep = sine(10 ** (-6 / 20), seconds=0.2)                   # 10 frames
    assert stats.silent_fraction(noise, RATE) == 0.0
    assert stats.silent_fraction(np.concatenate([noise, beep]), RATE) == pytest.approx(90 / 100)


def test_fingerprint_equal_for_identical_audio_and_different_otherwise():
    a = sine(0.5)
    assert stats.fingerprint(a) == stats.fingerprint(a.copy())
    assert stats.fingerprint(a) != stats.fingerprint(sine(0.5, hz=441.0))
    assert stats.fingerprint(a) != stats.fingerprint(a[1:])
    assert stats.fingerprint(a) != stats.fingerprint(-a)   # same magnitudes, other samples: other audio


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def test_clip_statistics_reads_the_source_format_and_survives_resampling():
    stereo = np.stack([sine(0.5, rate=44100), sine(0.5, rate=44100)], axis=1)
    data = wav_bytes(stereo, 44100)
    waveform = decode_audio(data, RATE)
    result = stats.clip_statistics(data, waveform, RATE)
    assert set(result) == set(features.CLIP_STATS)
    assert result[features.CLIP_SOURCE_SAMPLE_RATE] == 44100
    assert result[features.CLIP_SOURCE_CHANNELS] == 2
    assert result[features.CLIP_DURATION_S] == pytest.approx(1.0, abs=1e-3)
    assert result[features.CLIP_PEAK_DBFS] == pytest.approx(-6.02, abs=0.1)
    assert result[features.CLIP_CLIPPED_FRACTION] == 0.0
    # The same 16-bit samples in another container (FLAC) decode to the same audio.
    pcm, _ = soundfile.read(io.BytesIO(data), dtype="int16")
    buffer = io.BytesIO()
    soundfile.write(buffer, pcm, 44100, format="FLAC", subtype="PCM_16")
    same = stats.clip_statistics(buffer.getvalue(), decode_audio(buffer.getvalue(), RATE), RATE)
    assert same[features.CLIP_FINGERPRINT] == result[features.CLIP_FINGERPRINT]


def test_hard_clipped_mp3_is_measured_as_clipped():
    # Speech-like level driven 4x into the rails, through an MP3 round trip and resampling.
    x = np.clip(4 * sine(0.5, seconds=2.0, hz=220.0, rate=22050), -1, 1)
    buffer = io.BytesIO()
    soundfile.write(buffer, x, 22050, format="MP3")
    data = buffer.getvalue()
    result = stats.clip_statistics(data, decode_audio(data, RATE), RATE)
    assert result[features.CLIP_CLIPPED_FRACTION] > 0.3
    assert stats.source_format(b"not audio at all") == (0, 0)
