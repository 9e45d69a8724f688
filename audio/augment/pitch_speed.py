"""Pitch and speed: resampling pitch shift (``pitch_scale``) and phase-vocoder tempo change
(``time_stretch``). Both change the signal's length, then fit it back to the segment's."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import soxr

from audio import spectral_effects
from audio.augment.base import PAD_FADE_S, AugmentationParams, as_waveform, fit_length, register


def pitch_scale(waveform: Any, sample_rate: int, semitones: float) -> np.ndarray:
    """Shift pitch by ``semitones`` by resampling (speed perturbation), keep the length.

    The waveform is resampled (soxr, high quality) by ratio ``r = 2**(semitones/12)`` and
    played back at the original rate, so a tone at f moves to f*r and formants move with
    it, like a different (shorter/longer vocal tract) speaker speaking faster/slower.
    The result is centre-cropped (pitch down: longer) or zero-padded on both sides
    (pitch up: shorter, with 5 ms fades into the padding) back to the input length.
    """
    w = as_waveform(waveform)
    n = w.shape[0]
    if semitones == 0.0 or n == 0:
        return w.astype(np.float32)
    ratio = 2.0 ** (semitones / 12.0)
    # Treating the input as sampled at sample_rate*ratio and converting to sample_rate
    # keeps its physical frequencies, which are ratio times the originals.
    y = soxr.resample(w, sample_rate * ratio, sample_rate, quality="HQ")
    return fit_length(y, n, fade=int(PAD_FADE_S * sample_rate)).astype(np.float32)


@register
@dataclasses.dataclass(frozen=True)
class PitchScaleParams(AugmentationParams):
    """Resampling pitch shift by semitones drawn uniformly from [min, max]."""

    name: ClassVar[str] = "pitch_scale"
    p: float = 0.5
    min_semitones: float = -3.0
    max_semitones: float = 3.0

    def _validate(self) -> None:
        self._check_range("min_semitones", "max_semitones")
        if max(abs(self.min_semitones), abs(self.max_semitones)) > 24.0:
            raise ValueError("pitch_scale semitones must be within +-24")

    def sample(self, rng, num_samples, sample_rate):
        return {"semitones": float(rng.uniform(self.min_semitones, self.max_semitones))}

    @staticmethod
    def apply(waveform, sample_rate, rng, semitones):
        return pitch_scale(waveform, sample_rate, semitones)

    def strongest(self, num_samples, sample_rate):
        return {"semitones": self.max_semitones}


def time_stretch(waveform: Any, sample_rate: int, rate: float) -> np.ndarray:
    """Speak faster (rate > 1) or slower with the same pitch; centre-crop/pad to the input length.

    Unlike ``pitch_scale`` (resampling: tempo and pitch together), a phase vocoder changes
    tempo alone, so the model meets fast and slow speakers of the same voice.
    """
    w = as_waveform(waveform)
    if rate == 1.0 or w.size == 0:
        return w.astype(np.float32)
    y = spectral_effects.time_stretch(w, rate)
    return fit_length(y, w.shape[0], fade=int(PAD_FADE_S * sample_rate)).astype(np.float32)


@register
@dataclasses.dataclass(frozen=True)
class TimeStretchParams(AugmentationParams):
    """Phase-vocoder stretch with rate drawn uniformly from [min, max] (>1 is faster)."""

    name: ClassVar[str] = "time_stretch"
    p: float = 0.0
    min_rate: float = 0.85
    max_rate: float = 1.15

    def _validate(self) -> None:
        self._check_range("min_rate", "max_rate")
        if not (0.5 <= self.min_rate and self.max_rate <= 2.0):
            raise ValueError("time_stretch rates must be within [0.5, 2]")

    def sample(self, rng, num_samples, sample_rate):
        return {"rate": float(rng.uniform(self.min_rate, self.max_rate))}

    @staticmethod
    def apply(waveform, sample_rate, rng, rate):
        return time_stretch(waveform, sample_rate, rate)

    def strongest(self, num_samples, sample_rate):
        return {"rate": self.max_rate}
