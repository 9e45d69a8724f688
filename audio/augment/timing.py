"""Where the speech sits in the segment: shift it, keep a shorter excerpt (crop), or silence
spans of it (masks). Zero fill throughout: silence, never wrapped-around audio."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np

from audio.augment.base import PAD_FADE_S, AugmentationParams, as_waveform, fade_edges, register


def time_shift(waveform: Any, shift: int) -> np.ndarray:
    """Delay (shift > 0) or advance (shift < 0) by ``shift`` samples, zero-filling the gap.

    Zero fill rather than np.roll: a roll would splice the end of the utterance onto its
    start, a discontinuity that never occurs in real audio.
    """
    w = as_waveform(waveform)
    n, shift = w.shape[0], int(shift)
    out = np.zeros_like(w)
    if abs(shift) >= n:
        return out.astype(np.float32)
    if shift >= 0:
        out[shift:] = w[: n - shift]
    else:
        out[:shift] = w[-shift:]
    return out.astype(np.float32)


@register
@dataclasses.dataclass(frozen=True)
class TimeShiftParams(AugmentationParams):
    """Shift by up to max_fraction of the segment, either way."""

    name: ClassVar[str] = "time_shift"
    p: float = 0.0
    max_fraction: float = 0.2

    def _validate(self) -> None:
        if not 0.0 < self.max_fraction < 1.0:
            raise ValueError("time_shift.max_fraction must be in (0, 1)")

    def sample(self, rng, num_samples, sample_rate):
        most = int(self.max_fraction * num_samples)
        return {"shift": int(rng.integers(-most, most + 1))}

    @staticmethod
    def apply(waveform, sample_rate, rng, shift):
        return time_shift(waveform, shift)

    def strongest(self, num_samples, sample_rate):
        return {"shift": int(self.max_fraction * num_samples)}


def random_crop(waveform: Any, sample_rate: int, start: int, length: int) -> np.ndarray:
    """Keep ``waveform[start:start + length]`` at the front, zero-pad to the input length.

    Matches how short material reaches the model elsewhere: ingestion pads a clip's last
    window at the end, and the ``predict_waveform`` signature pads short clips the same way.
    """
    w = as_waveform(waveform)
    n, start, length = w.shape[0], int(start), int(length)
    if start < 0 or length < 1 or start + length > n:
        raise ValueError(f"crop [{start}, {start + length}) outside [0, {n})")
    # Fade only where the excerpt was cut out of the audio, not at the segment's own edges.
    piece = fade_edges(w[start:start + length], int(PAD_FADE_S * sample_rate),
                       head=start > 0, tail=start + length < n)
    return np.pad(piece, (0, n - length)).astype(np.float32)


@register
@dataclasses.dataclass(frozen=True)
class RandomCropParams(AugmentationParams):
    """Keep a random excerpt of min_fraction..1 of the segment, pad the rest with silence."""

    name: ClassVar[str] = "random_crop"
    p: float = 0.0
    min_fraction: float = 0.5

    def _validate(self) -> None:
        if not 0.0 < self.min_fraction <= 1.0:
            raise ValueError("random_crop.min_fraction must be in (0, 1]")

    def sample(self, rng, num_samples, sample_rate):
        length = int(rng.integers(max(1, int(self.min_fraction * num_samples)), num_samples + 1))
        return {"start": int(rng.integers(0, num_samples - length + 1)), "length": length}

    @staticmethod
    def apply(waveform, sample_rate, rng, start, length):
        return random_crop(waveform, sample_rate, start, length)

    def strongest(self, num_samples, sample_rate):
        length = max(1, int(self.min_fraction * num_samples))
        return {"start": (num_samples - length) // 2, "length": length}


def time_mask(waveform: Any, start: int, length: int) -> np.ndarray:
    """Zero ``waveform[start:start + length]``: teaches robustness to dropouts/gaps."""
    w = as_waveform(waveform)
    start, length = int(start), int(length)
    if start < 0 or length < 0 or start + length > w.shape[0]:
        raise ValueError(f"mask [{start}, {start + length}) outside [0, {w.shape[0]})")
    w[start: start + length] = 0.0
    return w.astype(np.float32)


@register
@dataclasses.dataclass(frozen=True)
class TimeMaskParams(AugmentationParams):
    """Zero 1..max_masks spans, each at most max_fraction of the segment."""

    name: ClassVar[str] = "time_mask"
    p: float = 0.5
    max_fraction: float = 0.15
    max_masks: int = 2

    def _validate(self) -> None:
        if not 0.0 < self.max_fraction <= 1.0:
            raise ValueError("time_mask.max_fraction must be in (0, 1]")
        if self.max_masks < 1:
            raise ValueError("time_mask.max_masks must be >= 1")

    def sample(self, rng, num_samples, sample_rate):
        max_len = max(1, int(self.max_fraction * num_samples))
        count = int(rng.integers(1, self.max_masks + 1))
        spans = []
        for _ in range(count):
            length = int(rng.integers(1, max_len + 1)) if num_samples else 0
            spans.append((int(rng.integers(0, num_samples - length + 1)), length))
        return {"spans": tuple(spans)}

    @staticmethod
    def apply(waveform, sample_rate, rng, spans):
        for start, length in spans:
            waveform = time_mask(waveform, start, length)
        return waveform

    def strongest(self, num_samples, sample_rate):
        return {"spans": ((int(0.4 * num_samples), max(1, int(self.max_fraction * num_samples))),)}
