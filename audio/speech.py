"""What counts as speech: one definition for training-time trimming and serve-time detection.

A window holds speech when enough of its 20 ms frames are active (above an absolute level),
the active frames' level moves (syllables: a steady tone, chord or hum does not), and their
averaged spectrum is not flat (white or broadband noise is). Chosen by measurement over a VAD
model (docs/serving.md, "No speech"): it needs only core TensorFlow ops, so the serving graph
computes the same thing (models/keras_model/signatures.py mirrors `window_has_speech` with
tf.signal using these constants; tests/test_speech.py checks that both agree).

Ingestion (components/s3_audio_example_gen/executor.py) trims each clip with `trim` and drops
the windows for which `window_has_speech` is False, judged on each window's real audio as the
serving graph does: the model never trains on a window that serving would report as `no_speech`.
"""
from __future__ import annotations

import numpy as np

FRAME_MS = 20.0            # analysis frame
FFT_LENGTH = 512           # per frame, Hann-windowed
ACTIVE_FLOOR_DB = -55.0    # a frame at or above this RMS level (dBFS) is active
MIN_ACTIVE_SECONDS = 0.25  # a window needs this much active audio
MIN_MODULATION_DB = 3.0    # standard deviation of the active frames' level, in dB
MAX_FLATNESS = 0.5         # spectral flatness (geometric / arithmetic mean) of the mean active spectrum
_EPS = 1e-10


def frame_samples(sample_rate: int) -> int:
    return max(1, int(round(sample_rate * FRAME_MS / 1000)))


def _frames(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    size = frame_samples(sample_rate)
    n = len(waveform) // size
    return np.asarray(waveform[: n * size], np.float64).reshape(n, size)


def frame_levels_db(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """RMS level of each whole 20 ms frame, in dBFS."""
    frames = _frames(waveform, sample_rate)
    return 10.0 * np.log10(np.mean(frames**2, axis=1) + _EPS)


def window_has_speech(window: np.ndarray, sample_rate: int) -> bool:
    """The per-window decision (the serving graph computes the same on each window's real audio)."""
    frames = _frames(window, sample_rate)
    if len(frames) == 0:
        return False
    levels = 10.0 * np.log10(np.mean(frames**2, axis=1) + _EPS)
    active = levels >= ACTIVE_FLOOR_DB
    if active.sum() * frames.shape[1] < MIN_ACTIVE_SECONDS * sample_rate:
        return False
    if np.std(levels[active]) < MIN_MODULATION_DB:
        return False
    size = frames.shape[1]
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)  # periodic, as tf.signal.hann_window
    power = np.abs(np.fft.rfft(frames[active] * hann, FFT_LENGTH)) ** 2
    spectrum = power.mean(axis=0)[1:-1] + _EPS
    flatness = np.exp(np.mean(np.log(spectrum))) / np.mean(spectrum)
    return bool(flatness < MAX_FLATNESS)


def trim(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """From the first to the last active frame; empty when no frame is active."""
    active = np.flatnonzero(frame_levels_db(waveform, sample_rate) >= ACTIVE_FLOOR_DB)
    if active.size == 0:
        return waveform[:0]
    size = frame_samples(sample_rate)
    return waveform[active[0] * size: (active[-1] + 1) * size]
