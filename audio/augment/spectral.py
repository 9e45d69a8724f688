"""Spectral shape: a high-pass filter (thin microphone, telephone) and vocal tract length
perturbation (formants move, pitch stays)."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import scipy.signal

from audio import spectral_effects
from audio.augment.base import AugmentationParams, as_waveform, register


def high_pass(waveform: Any, sample_rate: int, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Butterworth high-pass, zero-phase (sosfiltfilt): mimics thin mics / phone audio.

    Zero-phase filtering avoids shifting the waveform in time; it doubles the effective
    order (attenuation in dB) of the ``order``-th order design.
    """
    w = as_waveform(waveform)
    nyquist = sample_rate / 2.0
    if not 0.0 < cutoff_hz < nyquist:
        raise ValueError(f"cutoff_hz must be in (0, {nyquist}), got {cutoff_hz}")
    sos = scipy.signal.butter(int(order), cutoff_hz, btype="highpass", fs=sample_rate, output="sos")
    if w.shape[0] < 2:
        return w.astype(np.float32)
    padlen = min(3 * (2 * sos.shape[0] + 1), w.shape[0] - 1)  # scipy's default, capped for short input
    return scipy.signal.sosfiltfilt(sos, w, padlen=padlen).astype(np.float32)


@register
@dataclasses.dataclass(frozen=True)
class HighPassParams(AugmentationParams):
    """Butterworth high-pass with cutoff drawn uniformly from [min, max] Hz."""

    name: ClassVar[str] = "high_pass"
    p: float = 0.3
    min_cutoff_hz: float = 80.0
    max_cutoff_hz: float = 400.0
    order: int = 4

    def _validate(self) -> None:
        if self.min_cutoff_hz <= 0.0:
            raise ValueError("high_pass.min_cutoff_hz must be > 0")
        self._check_range("min_cutoff_hz", "max_cutoff_hz")
        if self.order < 1:
            raise ValueError("high_pass.order must be >= 1")

    def sample(self, rng, num_samples, sample_rate):
        return {"cutoff_hz": float(rng.uniform(self.min_cutoff_hz, self.max_cutoff_hz)), "order": self.order}

    @staticmethod
    def apply(waveform, sample_rate, rng, cutoff_hz, order):
        return high_pass(waveform, sample_rate, cutoff_hz, order)

    def strongest(self, num_samples, sample_rate):
        return {"cutoff_hz": self.max_cutoff_hz, "order": self.order}


@register
@dataclasses.dataclass(frozen=True)
class VtlpParams(AugmentationParams):
    """Vocal tract length perturbation (``spectral_effects.vtlp``): warp factor alpha drawn
    uniformly from [min, max]."""

    name: ClassVar[str] = "vtlp"
    p: float = 0.0
    min_alpha: float = 0.9
    max_alpha: float = 1.1
    boundary_hz: float = 4800.0

    def _validate(self) -> None:
        self._check_range("min_alpha", "max_alpha")
        if not (0.5 <= self.min_alpha and self.max_alpha <= 2.0):
            raise ValueError("vtlp alpha must be within [0.5, 2]")
        if self.boundary_hz <= 0.0:
            raise ValueError("vtlp.boundary_hz must be > 0")

    def sample(self, rng, num_samples, sample_rate):
        return {"alpha": float(rng.uniform(self.min_alpha, self.max_alpha)), "boundary_hz": self.boundary_hz}

    @staticmethod
    def apply(waveform, sample_rate, rng, alpha, boundary_hz):
        return spectral_effects.vtlp(waveform, sample_rate, alpha, boundary_hz)

    def strongest(self, num_samples, sample_rate):
        return {"alpha": self.max_alpha, "boundary_hz": self.boundary_hz}
