"""What every augmentation shares: the parameters base class (owns ``p`` and validation),
``register``, and waveform helpers (float64 working copy, length fitting, fades, peak limit).

An augmentation is one frozen dataclass subclassing ``AugmentationParams``: its fields are
the JSON-configurable parameters, ``sample`` draws one setting from an rng, ``apply`` (a
static method) applies a setting to a waveform and ``strongest`` gives the setting that plots
show. ``@register`` makes it known by its ``name``; ``registry.ORDER`` says when it runs.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

import numpy as np

PAD_FADE_S = 0.005   # fade into zero padding: no broadband click for the model to spot


def as_waveform(waveform: Any) -> np.ndarray:
    """Float64 copy of a 1-D waveform: filters and resampling are computed in float64."""
    w = np.array(waveform, dtype=np.float64, copy=True)
    if w.ndim != 1:
        raise ValueError(f"expected a 1-D mono waveform, got shape {w.shape}")
    return w


def limit_peak(waveform: Any) -> np.ndarray:
    """Scale the waveform down so ``max|w| <= 1``; leave it unchanged if it already is."""
    w = as_waveform(waveform)
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    if peak > 1.0:
        w /= peak
    return w.astype(np.float32)


def fade_edges(y: np.ndarray, fade: int, head: bool = True, tail: bool = True) -> np.ndarray:
    """Copy of ``y`` with raised-cosine fades of ``fade`` samples at the chosen ends."""
    fade = min(fade, y.shape[0] // 2)
    y = y.copy()
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
        if head:
            y[:fade] *= ramp
        if tail:
            y[y.shape[0] - fade:] *= ramp[::-1]
    return y


def fit_length(y: np.ndarray, n: int, fade: int = 0) -> np.ndarray:
    """Centre-crop or symmetrically zero-pad ``y`` to ``n`` samples.

    When padding, the first and last ``fade`` samples of ``y`` get a raised-cosine fade
    so the jump to silence is not a broadband click the model could learn to spot.
    """
    m = y.shape[0]
    if m >= n:
        start = (m - n) // 2
        return y[start:start + n]
    y = fade_edges(y, fade)
    before = (n - m) // 2
    return np.pad(y, (before, n - m - before))


@dataclasses.dataclass(frozen=True)
class AugmentationParams:
    """Base of every augmentation: ``p`` (the probability ``augment`` applies it) and checks.

    Fields must be numbers (JSON numbers are coerced: ``int`` fields must be whole, the rest
    finite floats). Subclasses set ``name``, add fields, and override ``_validate`` (ranges),
    ``sample``, ``apply`` and, for plots, ``strongest``.
    """

    name: ClassVar[str] = ""
    p: float = 0.5

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{self.name}.{f.name} must be a number, got {value!r}")
            if f.type in ("int", int):
                if value != int(value):
                    raise ValueError(f"{self.name}.{f.name} must be an integer, got {value!r}")
                object.__setattr__(self, f.name, int(value))
            else:
                if not math.isfinite(value):
                    raise ValueError(f"{self.name}.{f.name} must be finite, got {value!r}")
                object.__setattr__(self, f.name, float(value))
        if not 0.0 <= self.p <= 1.0:
            raise ValueError(f"{self.name}.p must be in [0, 1], got {self.p}")
        self._validate()

    def _validate(self) -> None:
        """Subclass hook for range checks."""

    def _check_range(self, low: str, high: str) -> None:
        if getattr(self, low) > getattr(self, high):
            raise ValueError(f"{self.name}: {low} must be <= {high}")

    def sample(self, rng: np.random.Generator, num_samples: int, sample_rate: int) -> dict:
        """One random setting (keyword arguments of ``apply``) within these parameters."""
        return {}

    @staticmethod
    def apply(waveform: np.ndarray, sample_rate: int, rng: np.random.Generator, **setting: Any) -> np.ndarray:
        """Apply one setting; ``rng`` serves augmentations whose effect is itself random (noise)."""
        raise NotImplementedError

    def strongest(self, num_samples: int, sample_rate: int) -> dict:
        """The most extreme setting these parameters allow, for plots (default: one seeded draw)."""
        return self.sample(np.random.default_rng(0), num_samples, sample_rate)


_REGISTERED: dict[str, type[AugmentationParams]] = {}


def register(params_type: type[AugmentationParams]) -> type[AugmentationParams]:
    """Class decorator: make an augmentation known by its ``name`` (``registry.ORDER`` places it)."""
    name = params_type.name
    if not issubclass(params_type, AugmentationParams) or not name:
        raise ValueError(f"{params_type.__name__} must subclass AugmentationParams and set a name")
    if name in _REGISTERED:
        raise ValueError(f"augmentation {name!r} is already registered")
    _REGISTERED[name] = params_type
    return params_type


def registered() -> dict[str, type[AugmentationParams]]:
    """Every registered augmentation by name, in import order (``registry.ORDER`` sets the real one)."""
    return dict(_REGISTERED)
