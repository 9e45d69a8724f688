"""Room acoustics: convolution with a synthetic room impulse response (``audio/reverb.py``)."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from audio import reverb as reverb_lib
from audio.augment.base import AugmentationParams, register


def room_reverb(waveform: Any, sample_rate: int, rng: np.random.Generator, rt60_s: float,
                drr_db: float) -> np.ndarray:
    """Reverberate with a fresh RIR drawn from ``rng`` (RT60, direct-to-reverberant ratio); RMS kept."""
    return reverb_lib.reverberate(waveform, reverb_lib.synthetic_rir(rng, sample_rate, rt60_s, drr_db))


@register
@dataclasses.dataclass(frozen=True)
class RoomReverbParams(AugmentationParams):
    """Synthetic RIR with RT60 and direct-to-reverberant ratio drawn uniformly."""

    name: ClassVar[str] = "room_reverb"
    p: float = 0.0
    min_rt60_s: float = 0.2
    max_rt60_s: float = 0.8
    min_drr_db: float = 0.0
    max_drr_db: float = 10.0

    def _validate(self) -> None:
        if self.min_rt60_s <= 0.0 or self.max_rt60_s > 3.0:
            raise ValueError("room_reverb RT60 must be in (0, 3] s")
        self._check_range("min_rt60_s", "max_rt60_s")
        self._check_range("min_drr_db", "max_drr_db")

    def sample(self, rng, num_samples, sample_rate):
        return {"rt60_s": float(rng.uniform(self.min_rt60_s, self.max_rt60_s)),
                "drr_db": float(rng.uniform(self.min_drr_db, self.max_drr_db))}

    @staticmethod
    def apply(waveform, sample_rate, rng, rt60_s, drr_db):
        return room_reverb(waveform, sample_rate, rng, rt60_s, drr_db)

    def strongest(self, num_samples, sample_rate):
        return {"rt60_s": self.max_rt60_s, "drr_db": self.min_drr_db}
