"""Synthetic room impulse responses and reverberation.

A diffuse-field RIR is well modelled as Gaussian noise under an exponential envelope whose
energy falls by 60 dB in RT60 seconds (Polack's model), after a direct-path impulse. That
needs no measured-RIR download, and RT60 is one interpretable knob (0.2 s: small furnished
room; 1 s: hall or stairwell).
"""
from __future__ import annotations

import math

import numpy as np
import scipy.signal


def synthetic_rir(rng: np.random.Generator, sample_rate: int, rt60_s: float,
                  direct_to_reverb_db: float = 0.0, predelay_ms: float = 5.0) -> np.ndarray:
    """Direct impulse + exponentially decaying noise tail, 60 dB down at rt60_s; peak 1."""
    if rt60_s <= 0:
        raise ValueError(f"rt60_s must be > 0, got {rt60_s}")
    length = int(math.ceil(rt60_s * sample_rate)) + 1
    t = np.arange(length) / sample_rate
    tail = rng.standard_normal(length) * np.exp(-3.0 * math.log(10.0) * t / rt60_s)  # amplitude -60 dB at RT60
    predelay = min(length - 1, int(predelay_ms * sample_rate / 1000))
    tail[:predelay] = 0.0
    # Scale the tail so its energy is direct_to_reverb_db below the unit direct impulse.
    tail *= math.sqrt(10.0 ** (-direct_to_reverb_db / 10.0) / max(float(np.sum(tail**2)), 1e-20))
    tail[0] = 1.0
    return tail / np.max(np.abs(tail))


def reverberate(waveform: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve with ``rir``, keep the input's length and RMS (level is random_gain's job)."""
    w = np.asarray(waveform, dtype=np.float64)
    if w.size == 0:
        return w.copy()
    wet = scipy.signal.fftconvolve(w, np.asarray(rir, dtype=np.float64))[: w.shape[0]]
    dry_rms, wet_rms = np.sqrt(np.mean(w**2)), np.sqrt(np.mean(wet**2))
    return wet * (dry_rms / wet_rms) if wet_rms > 0 else wet
