"""Noise added at a drawn signal-to-noise ratio: Gaussian white noise, or an excerpt of a file
from the noise bank (``audio/noise.py``: white, pink, brown, babble, or LANGID_NOISE_BANK)."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from audio import noise as noise_lib
from audio.augment.base import AugmentationParams, as_waveform, register


def add_white_noise(waveform: Any, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """Add Gaussian white noise at exactly ``snr_db`` relative to the signal's power.

    The drawn noise is rescaled by its own measured power (noise_lib.mix_at_snr), so the SNR
    is exact rather than only right on average. A silent input stays silent.
    """
    w = as_waveform(waveform)
    if w.size == 0:
        return w.astype(np.float32)
    return noise_lib.mix_at_snr(w, rng.standard_normal(w.shape[0]), snr_db).astype(np.float32)


@register
@dataclasses.dataclass(frozen=True)
class WhiteNoiseParams(AugmentationParams):
    """White noise at an SNR drawn uniformly from [min, max] dB."""

    name: ClassVar[str] = "white_noise"
    p: float = 0.5
    min_snr_db: float = 10.0
    max_snr_db: float = 30.0

    def _validate(self) -> None:
        self._check_range("min_snr_db", "max_snr_db")

    def sample(self, rng, num_samples, sample_rate):
        return {"snr_db": float(rng.uniform(self.min_snr_db, self.max_snr_db))}

    @staticmethod
    def apply(waveform, sample_rate, rng, snr_db):
        return add_white_noise(waveform, rng, snr_db)

    def strongest(self, num_samples, sample_rate):
        return {"snr_db": self.min_snr_db}


def noise_bank(sample_rate: int):
    """The noise bank in use, at ``sample_rate`` (read once per process)."""
    return noise_lib.load_bank(str(noise_lib.bank_dir()), sample_rate)


def add_background_noise(waveform: Any, sample_rate: int, snr_db: float, index: int,
                         offset: float) -> np.ndarray:
    """Mix bank file ``index`` from relative ``offset`` (looped if short) at exactly ``snr_db``."""
    w = np.asarray(waveform, dtype=np.float64)
    return noise_lib.mix_at_snr(w, noise_lib.bank_excerpt(noise_bank(sample_rate), index, offset, w.shape[0]),
                                snr_db)


@register
@dataclasses.dataclass(frozen=True)
class BackgroundNoiseParams(AugmentationParams):
    """An excerpt of a random noise-bank file mixed at an SNR drawn from [min, max] dB."""

    name: ClassVar[str] = "background_noise"
    p: float = 0.0
    min_snr_db: float = 5.0
    max_snr_db: float = 25.0

    def _validate(self) -> None:
        self._check_range("min_snr_db", "max_snr_db")

    def sample(self, rng, num_samples, sample_rate):
        return {"snr_db": float(rng.uniform(self.min_snr_db, self.max_snr_db)),
                "index": int(rng.integers(0, len(noise_bank(sample_rate)))),
                "offset": float(rng.random())}

    @staticmethod
    def apply(waveform, sample_rate, rng, snr_db, index, offset):
        return add_background_noise(waveform, sample_rate, snr_db, index, offset)

    def strongest(self, num_samples, sample_rate):
        return {"snr_db": self.min_snr_db, "index": len(noise_bank(sample_rate)) - 1, "offset": 0.0}
