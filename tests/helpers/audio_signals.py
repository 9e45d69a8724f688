"""Synthetic test signals with known spectra and levels, shared by the augmentation tests."""
from __future__ import annotations

import numpy as np

SR = 16000


def tone(freq_hz: float, seconds: float = 1.0, amplitude: float = 0.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))


def band_energy_db(x: np.ndarray, freq_hz: float, sr: int = SR, half_width_hz: float = 5.0) -> float:
    """Energy (dB) of x in [f - hw, f + hw] from a Hann-windowed FFT."""
    x = np.asarray(x, dtype=np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size))) ** 2
    freqs = np.fft.rfftfreq(x.size, 1.0 / sr)
    band = (freqs >= freq_hz - half_width_hz) & (freqs <= freq_hz + half_width_hz)
    return 10 * np.log10(spectrum[band].sum() + 1e-30)


def peak_freq(x: np.ndarray, sr: int = SR) -> float:
    x = np.asarray(x, dtype=np.float64)
    n = 4 * x.size  # zero-padded for a finer grid than 1 Hz
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), n=n))
    return float(np.fft.rfftfreq(n, 1.0 / sr)[np.argmax(spectrum)])


def speechlike(seconds: float = 1.0) -> np.ndarray:
    """Harmonic signal with gliding pitch and syllable-like envelope, peak 0.8."""
    t = np.arange(int(seconds * SR)) / SR
    phase = 2 * np.pi * np.cumsum(140 + 30 * np.sin(2 * np.pi * 0.7 * t)) / SR
    w = sum(np.sin(k * phase) / k for k in range(1, 20)) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)) ** 2
    return (0.8 * w / np.abs(w).max()).astype(np.float32)


def formant_voice(centre_hz: float = 1000.0, f0: float = 120.0, seconds: float = 1.0) -> np.ndarray:
    """Harmonics of f0 under one Gaussian formant at centre_hz."""
    t = np.arange(int(seconds * SR)) / SR
    w = sum(np.exp(-0.5 * ((f0 * k - centre_hz) / 150.0) ** 2) * np.sin(2 * np.pi * f0 * k * t)
            for k in range(1, int(4000 / f0)))
    return (0.5 * w / np.abs(w).max()).astype(np.float32)


def centroid_hz(x, low=300.0, high=3000.0) -> float:
    spectrum = np.abs(np.fft.rfft(np.asarray(x, np.float64) * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / SR)
    band = (freqs > low) & (freqs < high)
    return float((spectrum[band] * freqs[band]).sum() / spectrum[band].sum())


def decay_time_s(x, drop_db: float = 30.0) -> float:
    """Seconds from the end of the loud part (last 10 ms frame within 10 dB of the peak) until the
    energy envelope is drop_db below the peak."""
    frame = SR // 100
    energy = np.array([np.sum(x[i:i + frame] ** 2) for i in range(0, len(x) - frame, frame)]) + 1e-20
    level = 10 * np.log10(energy / energy.max())
    end = int(np.flatnonzero(level > -10.0)[-1])
    below = np.flatnonzero(level[end:] < -drop_db)
    return (below[0] if below.size else len(level) - end) * frame / SR
