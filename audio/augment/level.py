"""Level and sign: constant gain, a gain ramp (speaker moving off-mic) and polarity inversion.
Gains scale the whole waveform down rather than clip when the peak would pass 1."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from audio.augment.base import AugmentationParams, as_waveform, limit_peak, register


def apply_gain(waveform: Any, gain_db: float) -> np.ndarray:
    """Scale by ``gain_db`` dB, then scale down (never clip) if the peak would exceed 1.

    Clipping would add distortion that a language model could latch onto; scaling the
    whole waveform keeps its shape, at the cost of achieving less than the requested
    gain when the input is already loud.
    """
    w = as_waveform(waveform) * (10.0 ** (gain_db / 20.0))
    return limit_peak(w)


@register
@dataclasses.dataclass(frozen=True)
class RandomGainParams(AugmentationParams):
    """Gain drawn uniformly from [min, max] dB, peak kept within [-1, 1]."""

    name: ClassVar[str] = "random_gain"
    p: float = 0.5
    min_gain_db: float = -6.0
    max_gain_db: float = 6.0

    def _validate(self) -> None:
        self._check_range("min_gain_db", "max_gain_db")

    def sample(self, rng, num_samples, sample_rate):
        return {"gain_db": float(rng.uniform(self.min_gain_db, self.max_gain_db))}

    @staticmethod
    def apply(waveform, sample_rate, rng, gain_db):
        return apply_gain(waveform, gain_db)

    def strongest(self, num_samples, sample_rate):
        return {"gain_db": self.min_gain_db}


def apply_volume_ramp(waveform: Any, start_db: float, end_db: float) -> np.ndarray:
    """Gain changing linearly in dB from ``start_db`` to ``end_db``: a speaker moving off-mic.

    ``random_gain`` is one constant level; this changes the level within the segment.
    """
    w = as_waveform(waveform)
    ramp_db = np.linspace(float(start_db), float(end_db), w.shape[0]) if w.size else w
    return limit_peak(w * 10.0 ** (ramp_db / 20.0))


@register
@dataclasses.dataclass(frozen=True)
class VolumeParams(AugmentationParams):
    """Linear-in-dB level ramp, both ends drawn uniformly from [min, max] dB."""

    name: ClassVar[str] = "volume"
    p: float = 0.0
    min_db: float = -12.0
    max_db: float = 0.0

    def _validate(self) -> None:
        self._check_range("min_db", "max_db")

    def sample(self, rng, num_samples, sample_rate):
        return {"start_db": float(rng.uniform(self.min_db, self.max_db)),
                "end_db": float(rng.uniform(self.min_db, self.max_db))}

    @staticmethod
    def apply(waveform, sample_rate, rng, start_db, end_db):
        return apply_volume_ramp(waveform, start_db, end_db)

    def strongest(self, num_samples, sample_rate):
        return {"start_db": self.max_db, "end_db": self.min_db}


def invert_polarity(waveform: Any) -> np.ndarray:
    """Negate the waveform: inaudible, but stops the model relying on absolute phase."""
    return (-as_waveform(waveform)).astype(np.float32)


@register
@dataclasses.dataclass(frozen=True)
class PolarityInversionParams(AugmentationParams):
    """Negate the waveform."""

    name: ClassVar[str] = "polarity_inversion"
    p: float = 0.5

    @staticmethod
    def apply(waveform, sample_rate, rng):
        return invert_polarity(waveform)
