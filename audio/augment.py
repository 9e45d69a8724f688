"""Waveform augmentation for training segments.

A Beam stage before tf.Transform makes K augmented copies of every TRAIN segment
(float32 mono, fixed length, values in [-1, 1]); eval data is never augmented.

Design:

* Every augmentation is a plain function with explicit parameters (randomness only
  through a passed ``np.random.Generator``), so each effect can be tested on its own.
* A registry (``REGISTRY``) maps a name to its parameter dataclass, a sampler that draws
  parameters from an rng, the function that applies them and a representative setting
  for plots. New augmentations (time shift, stretch, background noise, RIR, VTLP, ...)
  are added with ``register`` without touching ``augment`` or ``AugmentationConfig``.
* ``augment`` gives each augmentation its own random stream derived from the caller's
  rng and the augmentation's name, so adding, removing or re-tuning one augmentation
  does not change the random choices of the others.
* ``rng_for`` derives the caller's rng from (seed, example key, copy index) with
  hashlib, so copies are reproducible whatever the worker or processing order.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from typing import Any, Callable, ClassVar, Iterator, Mapping

import numpy as np
import scipy.signal
import soxr

from audio import noise as noise_lib
from audio import reverb as reverb_lib
from audio import spectral_effects

__all__ = [
    "AugmentationConfig",
    "AugmentationPolicy",
    "Augmentation",
    "REGISTRY",
    "register",
    "rng_for",
    "augment",
    "time_mask",
    "high_pass",
    "add_white_noise",
    "pitch_scale",
    "invert_polarity",
    "apply_gain",
    "limit_peak",
    "TimeMaskParams",
    "HighPassParams",
    "WhiteNoiseParams",
    "PitchScaleParams",
    "PolarityInversionParams",
    "RandomGainParams",
    "time_shift",
    "time_stretch",
    "random_crop",
    "apply_volume_ramp",
]


# --------------------------------------------------------------------------------------
# Augmentation functions. Each takes a 1-D waveform, never mutates it and returns a new
# float32 array of the same length.
# --------------------------------------------------------------------------------------


def _as_waveform(waveform: Any) -> np.ndarray:
    """Float64 copy of a 1-D waveform: filters and resampling are computed in float64."""
    w = np.array(waveform, dtype=np.float64, copy=True)
    if w.ndim != 1:
        raise ValueError(f"expected a 1-D mono waveform, got shape {w.shape}")
    return w


def time_mask(waveform: Any, start: int, length: int) -> np.ndarray:
    """Zero ``waveform[start:start + length]``: teaches robustness to dropouts/gaps."""
    w = _as_waveform(waveform)
    start, length = int(start), int(length)
    if start < 0 or length < 0 or start + length > w.shape[0]:
        raise ValueError(f"mask [{start}, {start + length}) outside [0, {w.shape[0]})")
    w[start : start + length] = 0.0
    return w.astype(np.float32)


def high_pass(waveform: Any, sample_rate: int, cutoff_hz: float, order: int = 4) -> np.ndarray:
    """Butterworth high-pass, zero-phase (sosfiltfilt): mimics thin mics / phone audio.

    Zero-phase filtering avoids shifting the waveform in time; it doubles the effective
    order (attenuation in dB) of the ``order``-th order design.
    """
    w = _as_waveform(waveform)
    nyquist = sample_rate / 2.0
    if not 0.0 < cutoff_hz < nyquist:
        raise ValueError(f"cutoff_hz must be in (0, {nyquist}), got {cutoff_hz}")
    sos = scipy.signal.butter(int(order), cutoff_hz, btype="highpass", fs=sample_rate, output="sos")
    if w.shape[0] < 2:
        return w.astype(np.float32)
    padlen = min(3 * (2 * sos.shape[0] + 1), w.shape[0] - 1)  # scipy's default, capped for short input
    return scipy.signal.sosfiltfilt(sos, w, padlen=padlen).astype(np.float32)


def add_white_noise(waveform: Any, rng: np.random.Generator, snr_db: float) -> np.ndarray:
    """Add Gaussian white noise at exactly ``snr_db`` relative to the signal's power.

    The drawn noise is rescaled by its own measured power (noise_lib.mix_at_snr), so the SNR
    is exact rather than only right on average. A silent input stays silent.
    """
    w = _as_waveform(waveform)
    if w.size == 0:
        return w.astype(np.float32)
    return noise_lib.mix_at_snr(w, rng.standard_normal(w.shape[0]), snr_db).astype(np.float32)


_PAD_FADE_S = 0.005


def pitch_scale(waveform: Any, sample_rate: int, semitones: float) -> np.ndarray:
    """Shift pitch by ``semitones`` by resampling (speed perturbation), keep the length.

    The waveform is resampled (soxr, high quality) by ratio ``r = 2**(semitones/12)`` and
    played back at the original rate, so a tone at f moves to f*r and formants move with
    it, like a different (shorter/longer vocal tract) speaker speaking faster/slower.
    The result is centre-cropped (pitch down: longer) or zero-padded on both sides
    (pitch up: shorter, with 5 ms fades into the padding) back to the input length.
    """
    w = _as_waveform(waveform)
    n = w.shape[0]
    if semitones == 0.0 or n == 0:
        return w.astype(np.float32)
    ratio = 2.0 ** (semitones / 12.0)
    # Treating the input as sampled at sample_rate*ratio and converting to sample_rate
    # keeps its physical frequencies, which are ratio times the originals.
    y = soxr.resample(w, sample_rate * ratio, sample_rate, quality="HQ")
    return _fit_length(y, n, fade=int(_PAD_FADE_S * sample_rate)).astype(np.float32)


def _fit_length(y: np.ndarray, n: int, fade: int = 0) -> np.ndarray:
    """Centre-crop or symmetrically zero-pad ``y`` to ``n`` samples.

    When padding, the first and last ``fade`` samples of ``y`` get a raised-cosine fade
    so the jump to silence is not a broadband click the model could learn to spot.
    """
    m = y.shape[0]
    if m >= n:
        start = (m - n) // 2
        return y[start : start + n]
    y = _fade_edges(y, fade)
    before = (n - m) // 2
    return np.pad(y, (before, n - m - before))


def _fade_edges(y: np.ndarray, fade: int, head: bool = True, tail: bool = True) -> np.ndarray:
    """Copy of ``y`` with raised-cosine fades of ``fade`` samples at the chosen ends."""
    fade = min(fade, y.shape[0] // 2)
    y = y.copy()
    if fade > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)
        if head:
            y[:fade] *= ramp
        if tail:
            y[y.shape[0] - fade :] *= ramp[::-1]
    return y


def invert_polarity(waveform: Any) -> np.ndarray:
    """Negate the waveform: inaudible, but stops the model relying on absolute phase."""
    return (-_as_waveform(waveform)).astype(np.float32)


def apply_gain(waveform: Any, gain_db: float) -> np.ndarray:
    """Scale by ``gain_db`` dB, then scale down (never clip) if the peak would exceed 1.

    Clipping would add distortion that a language model could latch onto; scaling the
    whole waveform keeps its shape, at the cost of achieving less than the requested
    gain when the input is already loud.
    """
    w = _as_waveform(waveform) * (10.0 ** (gain_db / 20.0))
    return limit_peak(w)


def limit_peak(waveform: Any) -> np.ndarray:
    """Scale the waveform down so ``max|w| <= 1``; leave it unchanged if it already is."""
    w = _as_waveform(waveform)
    peak = float(np.max(np.abs(w))) if w.size else 0.0
    if peak > 1.0:
        w /= peak
    return w.astype(np.float32)


# --------------------------------------------------------------------------------------
# Parameter dataclasses. Each has ``name`` (the registry/JSON key) and ``p``, the
# probability that ``augment`` applies it.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Params:
    """Base for per-augmentation parameters: validates and coerces JSON numbers."""

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


@dataclasses.dataclass(frozen=True)
class TimeMaskParams(_Params):
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


@dataclasses.dataclass(frozen=True)
class HighPassParams(_Params):
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


@dataclasses.dataclass(frozen=True)
class WhiteNoiseParams(_Params):
    """White noise at an SNR drawn uniformly from [min, max] dB."""

    name: ClassVar[str] = "white_noise"
    p: float = 0.5
    min_snr_db: float = 10.0
    max_snr_db: float = 30.0

    def _validate(self) -> None:
        self._check_range("min_snr_db", "max_snr_db")


@dataclasses.dataclass(frozen=True)
class PitchScaleParams(_Params):
    """Resampling pitch shift by semitones drawn uniformly from [min, max]."""

    name: ClassVar[str] = "pitch_scale"
    p: float = 0.5
    min_semitones: float = -3.0
    max_semitones: float = 3.0

    def _validate(self) -> None:
        self._check_range("min_semitones", "max_semitones")
        if max(abs(self.min_semitones), abs(self.max_semitones)) > 24.0:
            raise ValueError("pitch_scale semitones must be within +-24")


@dataclasses.dataclass(frozen=True)
class PolarityInversionParams(_Params):
    """Negate the waveform."""

    name: ClassVar[str] = "polarity_inversion"
    p: float = 0.5


@dataclasses.dataclass(frozen=True)
class RandomGainParams(_Params):
    """Gain drawn uniformly from [min, max] dB, peak kept within [-1, 1]."""

    name: ClassVar[str] = "random_gain"
    p: float = 0.5
    min_gain_db: float = -6.0
    max_gain_db: float = 6.0

    def _validate(self) -> None:
        self._check_range("min_gain_db", "max_gain_db")


# --------------------------------------------------------------------------------------
# Registry.
# --------------------------------------------------------------------------------------

# sample(rng, params, num_samples, sample_rate) -> kwargs for apply
Sampler = Callable[[np.random.Generator, Any, int, int], dict]
# apply(waveform, sample_rate, rng, **kwargs) -> waveform
Applier = Callable[..., np.ndarray]


@dataclasses.dataclass(frozen=True)
class Augmentation:
    """A named augmentation: parameter type, parameter sampler, applier, plot example.

    ``example(params, num_samples, sample_rate)`` returns representative kwargs (the
    strongest setting the params allow) for plots; ``describe(kwargs)`` labels them.
    """

    name: str
    params_type: type
    sample: Sampler
    apply: Applier
    example: Callable[[Any, int, int], dict]
    describe: Callable[[dict], str] = lambda kwargs: ", ".join(f"{k}={v:g}" for k, v in kwargs.items())


REGISTRY: dict[str, Augmentation] = {}
"""Registered augmentations, in the order ``augment`` applies them."""


def register(augmentation: Augmentation, before: str | None = None) -> Augmentation:
    """Add an augmentation to the registry: applied last, or just before ``before``."""
    if augmentation.name in REGISTRY:
        raise ValueError(f"augmentation {augmentation.name!r} is already registered")
    if getattr(augmentation.params_type, "name", None) != augmentation.name:
        raise ValueError(f"{augmentation.params_type.__name__}.name must be {augmentation.name!r}")
    if before is None:
        REGISTRY[augmentation.name] = augmentation
        return augmentation
    if before not in REGISTRY:
        raise ValueError(_unknown(before))
    items = list(REGISTRY.items())
    at = [name for name, _ in items].index(before)
    items.insert(at, (augmentation.name, augmentation))
    REGISTRY.clear()
    REGISTRY.update(items)
    return augmentation


def _sample_time_masks(rng: np.random.Generator, params: TimeMaskParams, n: int, sr: int) -> dict:
    max_len = max(1, int(params.max_fraction * n))
    count = int(rng.integers(1, params.max_masks + 1))
    spans = []
    for _ in range(count):
        length = int(rng.integers(1, max_len + 1)) if n else 0
        spans.append((int(rng.integers(0, n - length + 1)), length))
    return {"spans": tuple(spans)}


def _apply_time_masks(w: np.ndarray, sr: int, rng: np.random.Generator, spans) -> np.ndarray:
    for start, length in spans:
        w = time_mask(w, start, length)
    return w


def _describe_time_masks(kwargs: dict) -> str:
    return "; ".join(f"start={s}, length={n}" for s, n in kwargs["spans"])


# Application order: pitch (changes the content) and filtering first, then noise, so its
# level follows the processed signal; gain and polarity act on signal+noise together;
# masks last so masked spans are true silence.
register(
    Augmentation(
        name="pitch_scale",
        params_type=PitchScaleParams,
        sample=lambda rng, p, n, sr: {"semitones": float(rng.uniform(p.min_semitones, p.max_semitones))},
        apply=lambda w, sr, rng, semitones: pitch_scale(w, sr, semitones),
        example=lambda p, n, sr: {"semitones": p.max_semitones},
        describe=lambda kw: f"semitones={kw['semitones']:+.2f}",
    )
)
register(
    Augmentation(
        name="high_pass",
        params_type=HighPassParams,
        sample=lambda rng, p, n, sr: {
            "cutoff_hz": float(rng.uniform(p.min_cutoff_hz, p.max_cutoff_hz)),
            "order": p.order,
        },
        apply=lambda w, sr, rng, cutoff_hz, order: high_pass(w, sr, cutoff_hz, order),
        example=lambda p, n, sr: {"cutoff_hz": p.max_cutoff_hz, "order": p.order},
        describe=lambda kw: f"cutoff={kw['cutoff_hz']:.0f} Hz, order={kw['order']}",
    )
)
register(
    Augmentation(
        name="white_noise",
        params_type=WhiteNoiseParams,
        sample=lambda rng, p, n, sr: {"snr_db": float(rng.uniform(p.min_snr_db, p.max_snr_db))},
        apply=lambda w, sr, rng, snr_db: add_white_noise(w, rng, snr_db),
        example=lambda p, n, sr: {"snr_db": p.min_snr_db},
        describe=lambda kw: f"SNR={kw['snr_db']:.1f} dB",
    )
)
register(
    Augmentation(
        name="random_gain",
        params_type=RandomGainParams,
        sample=lambda rng, p, n, sr: {"gain_db": float(rng.uniform(p.min_gain_db, p.max_gain_db))},
        apply=lambda w, sr, rng, gain_db: apply_gain(w, gain_db),
        example=lambda p, n, sr: {"gain_db": p.min_gain_db},
        describe=lambda kw: f"gain={kw['gain_db']:+.1f} dB",
    )
)
register(
    Augmentation(
        name="polarity_inversion",
        params_type=PolarityInversionParams,
        sample=lambda rng, p, n, sr: {},
        apply=lambda w, sr, rng: invert_polarity(w),
        example=lambda p, n, sr: {},
        describe=lambda kw: "w -> -w",
    )
)
register(
    Augmentation(
        name="time_mask",
        params_type=TimeMaskParams,
        sample=_sample_time_masks,
        apply=_apply_time_masks,
        example=lambda p, n, sr: {"spans": ((int(0.4 * n), max(1, int(p.max_fraction * n))),)},
        describe=_describe_time_masks,
    )
)


# --------------------------------------------------------------------------------------
# The second set: time and room effects, background noise, VTLP and crops. All default to
# p=0 (opt-in): the demo's default training set stays what it was, and bench/augmentation.py
# measures what switching them on is worth.
# --------------------------------------------------------------------------------------


def time_shift(waveform: Any, shift: int) -> np.ndarray:
    """Delay (shift > 0) or advance (shift < 0) by ``shift`` samples, zero-filling the gap.

    Zero fill rather than np.roll: a roll would splice the end of the utterance onto its
    start, a discontinuity that never occurs in real audio.
    """
    w = _as_waveform(waveform)
    n, shift = w.shape[0], int(shift)
    out = np.zeros_like(w)
    if abs(shift) >= n:
        return out.astype(np.float32)
    if shift >= 0:
        out[shift:] = w[: n - shift]
    else:
        out[:shift] = w[-shift:]
    return out.astype(np.float32)


def time_stretch(waveform: Any, sample_rate: int, rate: float) -> np.ndarray:
    """Speak faster (rate > 1) or slower with the same pitch; centre-crop/pad to the input length.

    Unlike ``pitch_scale`` (resampling: tempo and pitch together), a phase vocoder changes
    tempo alone, so the model meets fast and slow speakers of the same voice.
    """
    w = _as_waveform(waveform)
    if rate == 1.0 or w.size == 0:
        return w.astype(np.float32)
    y = spectral_effects.time_stretch(w, rate)
    return _fit_length(y, w.shape[0], fade=int(_PAD_FADE_S * sample_rate)).astype(np.float32)


def random_crop(waveform: Any, sample_rate: int, start: int, length: int) -> np.ndarray:
    """Keep ``waveform[start:start + length]`` at the front, zero-pad to the input length.

    Matches how short material reaches the model elsewhere: ingestion pads a clip's last
    window at the end, and the ``predict_waveform`` signature pads short clips the same way.
    """
    w = _as_waveform(waveform)
    n, start, length = w.shape[0], int(start), int(length)
    if start < 0 or length < 1 or start + length > n:
        raise ValueError(f"crop [{start}, {start + length}) outside [0, {n})")
    # Fade only where the excerpt was cut out of the audio, not at the segment's own edges.
    piece = _fade_edges(w[start:start + length], int(_PAD_FADE_S * sample_rate),
                        head=start > 0, tail=start + length < n)
    return np.pad(piece, (0, n - length)).astype(np.float32)


def apply_volume_ramp(waveform: Any, start_db: float, end_db: float) -> np.ndarray:
    """Gain changing linearly in dB from ``start_db`` to ``end_db``: a speaker moving off-mic.

    ``random_gain`` is one constant level; this changes the level within the segment.
    """
    w = _as_waveform(waveform)
    ramp_db = np.linspace(float(start_db), float(end_db), w.shape[0]) if w.size else w
    return limit_peak(w * 10.0 ** (ramp_db / 20.0))


@dataclasses.dataclass(frozen=True)
class TimeShiftParams(_Params):
    """Shift by up to max_fraction of the segment, either way."""

    name: ClassVar[str] = "time_shift"
    p: float = 0.0
    max_fraction: float = 0.2

    def _validate(self) -> None:
        if not 0.0 < self.max_fraction < 1.0:
            raise ValueError("time_shift.max_fraction must be in (0, 1)")


@dataclasses.dataclass(frozen=True)
class TimeStretchParams(_Params):
    """Phase-vocoder stretch with rate drawn uniformly from [min, max] (>1 is faster)."""

    name: ClassVar[str] = "time_stretch"
    p: float = 0.0
    min_rate: float = 0.85
    max_rate: float = 1.15

    def _validate(self) -> None:
        self._check_range("min_rate", "max_rate")
        if not (0.5 <= self.min_rate and self.max_rate <= 2.0):
            raise ValueError("time_stretch rates must be within [0.5, 2]")


@dataclasses.dataclass(frozen=True)
class VolumeParams(_Params):
    """Linear-in-dB level ramp, both ends drawn uniformly from [min, max] dB."""

    name: ClassVar[str] = "volume"
    p: float = 0.0
    min_db: float = -12.0
    max_db: float = 0.0

    def _validate(self) -> None:
        self._check_range("min_db", "max_db")


@dataclasses.dataclass(frozen=True)
class BackgroundNoiseParams(_Params):
    """An excerpt of a random noise-bank file mixed at an SNR drawn from [min, max] dB."""

    name: ClassVar[str] = "background_noise"
    p: float = 0.0
    min_snr_db: float = 5.0
    max_snr_db: float = 25.0

    def _validate(self) -> None:
        self._check_range("min_snr_db", "max_snr_db")


@dataclasses.dataclass(frozen=True)
class RoomReverbParams(_Params):
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


@dataclasses.dataclass(frozen=True)
class VtlpParams(_Params):
    """Vocal tract length perturbation: warp factor alpha drawn uniformly from [min, max]."""

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


@dataclasses.dataclass(frozen=True)
class RandomCropParams(_Params):
    """Keep a random excerpt of min_fraction..1 of the segment, pad the rest with silence."""

    name: ClassVar[str] = "random_crop"
    p: float = 0.0
    min_fraction: float = 0.5

    def _validate(self) -> None:
        if not 0.0 < self.min_fraction <= 1.0:
            raise ValueError("random_crop.min_fraction must be in (0, 1]")


def _sample_crop(rng: np.random.Generator, params: RandomCropParams, n: int, sr: int) -> dict:
    length = int(rng.integers(max(1, int(params.min_fraction * n)), n + 1))
    return {"start": int(rng.integers(0, n - length + 1)), "length": length}


def _apply_background_noise(w: np.ndarray, sr: int, rng: np.random.Generator, snr_db: float, index: int,
                            offset: float) -> np.ndarray:
    bank = noise_lib.load_bank(str(noise_lib.bank_dir()), sr)
    return noise_lib.mix_at_snr(w, noise_lib.bank_excerpt(bank, index, offset, w.shape[0]), snr_db)


def _bank_size(sr: int) -> int:
    return len(noise_lib.load_bank(str(noise_lib.bank_dir()), sr))


def _bank_name(index: int, sr: int = 16000) -> str:
    bank = noise_lib.load_bank(str(noise_lib.bank_dir()), sr)
    return bank[index % len(bank)][0]


def _apply_room_reverb(w: np.ndarray, sr: int, rng: np.random.Generator, rt60_s: float, drr_db: float) -> np.ndarray:
    return reverb_lib.reverberate(w, reverb_lib.synthetic_rir(rng, sr, rt60_s, drr_db))


register(
    Augmentation(
        name="time_stretch",
        params_type=TimeStretchParams,
        sample=lambda rng, p, n, sr: {"rate": float(rng.uniform(p.min_rate, p.max_rate))},
        apply=lambda w, sr, rng, rate: time_stretch(w, sr, rate),
        example=lambda p, n, sr: {"rate": p.max_rate},
        describe=lambda kw: f"rate={kw['rate']:.2f}",
    ),
    before="pitch_scale",
)
register(
    Augmentation(
        name="vtlp",
        params_type=VtlpParams,
        sample=lambda rng, p, n, sr: {"alpha": float(rng.uniform(p.min_alpha, p.max_alpha)),
                                      "boundary_hz": p.boundary_hz},
        apply=lambda w, sr, rng, alpha, boundary_hz: spectral_effects.vtlp(w, sr, alpha, boundary_hz),
        example=lambda p, n, sr: {"alpha": p.max_alpha, "boundary_hz": p.boundary_hz},
        describe=lambda kw: f"alpha={kw['alpha']:.2f}",
    ),
    before="high_pass",
)
register(
    Augmentation(
        name="random_crop",
        params_type=RandomCropParams,
        sample=_sample_crop,
        apply=lambda w, sr, rng, start, length: random_crop(w, sr, start, length),
        example=lambda p, n, sr: {"start": (n - max(1, int(p.min_fraction * n))) // 2,
                                  "length": max(1, int(p.min_fraction * n))},
        describe=lambda kw: f"start={kw['start']}, length={kw['length']}",
    ),
    before="high_pass",
)
register(
    Augmentation(
        name="time_shift",
        params_type=TimeShiftParams,
        sample=lambda rng, p, n, sr: {"shift": int(rng.integers(-int(p.max_fraction * n), int(p.max_fraction * n) + 1))},
        apply=lambda w, sr, rng, shift: time_shift(w, shift),
        example=lambda p, n, sr: {"shift": int(p.max_fraction * n)},
        describe=lambda kw: f"shift={kw['shift']} samples",
    ),
    before="high_pass",
)
register(
    Augmentation(
        name="room_reverb",
        params_type=RoomReverbParams,
        sample=lambda rng, p, n, sr: {"rt60_s": float(rng.uniform(p.min_rt60_s, p.max_rt60_s)),
                                      "drr_db": float(rng.uniform(p.min_drr_db, p.max_drr_db))},
        apply=_apply_room_reverb,
        example=lambda p, n, sr: {"rt60_s": p.max_rt60_s, "drr_db": p.min_drr_db},
        describe=lambda kw: f"RT60={kw['rt60_s']:.2f} s, DRR={kw['drr_db']:.1f} dB",
    ),
    before="high_pass",
)
register(
    Augmentation(
        name="background_noise",
        params_type=BackgroundNoiseParams,
        sample=lambda rng, p, n, sr: {"snr_db": float(rng.uniform(p.min_snr_db, p.max_snr_db)),
                                      "index": int(rng.integers(0, _bank_size(sr))),
                                      "offset": float(rng.random())},
        apply=_apply_background_noise,
        example=lambda p, n, sr: {"snr_db": p.min_snr_db, "index": _bank_size(sr) - 1, "offset": 0.0},
        describe=lambda kw: f"{_bank_name(kw['index'])}, SNR={kw['snr_db']:.1f} dB",
    ),
    before="white_noise",
)
register(
    Augmentation(
        name="volume",
        params_type=VolumeParams,
        sample=lambda rng, p, n, sr: {"start_db": float(rng.uniform(p.min_db, p.max_db)),
                                      "end_db": float(rng.uniform(p.min_db, p.max_db))},
        apply=lambda w, sr, rng, start_db, end_db: apply_volume_ramp(w, start_db, end_db),
        example=lambda p, n, sr: {"start_db": p.max_db, "end_db": p.min_db},
        describe=lambda kw: f"{kw['start_db']:+.1f} dB -> {kw['end_db']:+.1f} dB",
    ),
    before="polarity_inversion",
)


# --------------------------------------------------------------------------------------
# Configuration.
# --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class AugmentationConfig:
    """Parameters of every registered augmentation, keyed by name.

    JSON form (``to_dict``/``from_dict``) is ``{name: {field: value}}``. In ``from_dict``
    omitted augmentations and fields take their defaults; set ``p`` to 0 to disable one.
    Unknown augmentation or field names raise ``ValueError`` so typos are not ignored.
    """

    params: tuple = ()

    def __post_init__(self) -> None:
        given = {}
        for item in self.params:
            if not isinstance(item, _Params) or item.name not in REGISTRY:
                raise ValueError(f"not the parameters of a registered augmentation: {item!r}")
            if item.name in given:
                raise ValueError(f"parameters for {item.name!r} given twice")
            given[item.name] = item
        # Canonical order and completeness: registry order, defaults for the rest.
        full = tuple(given.get(name, aug.params_type()) for name, aug in REGISTRY.items())
        object.__setattr__(self, "params", full)

    def __getitem__(self, name: str) -> Any:
        for item in self.params:
            if item.name == name:
                return item
        raise ValueError(_unknown(name))

    def __iter__(self) -> Iterator[Any]:
        return iter(self.params)

    def replace(self, name: str, **changes: Any) -> "AugmentationConfig":
        """Copy with some fields of one augmentation changed, e.g. ``replace("high_pass", p=0)``."""
        new = dataclasses.replace(self[name], **changes)
        return AugmentationConfig(tuple(new if item.name == name else item for item in self.params))

    def only(self, name: str) -> "AugmentationConfig":
        """Copy where ``name`` always applies (p=1) and every other augmentation never does."""
        self[name]  # raises on unknown names
        return AugmentationConfig(
            tuple(dataclasses.replace(item, p=1.0 if item.name == name else 0.0) for item in self.params)
        )

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """JSON-able ``{name: {field: value}}`` with every augmentation and field."""
        return {item.name: dataclasses.asdict(item) for item in self.params}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]] | None) -> "AugmentationConfig":
        """Inverse of ``to_dict``; missing entries take defaults, unknown names raise."""
        data = data or {}
        if not isinstance(data, Mapping):
            raise ValueError(f"augmentation config must be a mapping, got {type(data).__name__}")
        params = []
        for name, fields in data.items():
            if name not in REGISTRY:
                raise ValueError(_unknown(name))
            params_type = REGISTRY[name].params_type
            if not isinstance(fields, Mapping):
                raise ValueError(f"{name}: expected a mapping of parameters, got {fields!r}")
            known = {f.name for f in dataclasses.fields(params_type)}
            unknown = sorted(set(fields) - known)
            if unknown:
                raise ValueError(f"{name}: unknown parameter(s) {unknown}; known: {sorted(known)}")
            params.append(params_type(**fields))
        return cls(tuple(params))

    def to_json(self) -> str:
        """JSON string for a TFX execution property."""
        return json.dumps(self.to_dict(), sort_keys=False)

    @classmethod
    def from_json(cls, text: str | None) -> "AugmentationConfig":
        """Inverse of ``to_json``; an empty string or None gives the defaults."""
        return cls.from_dict(json.loads(text) if text else None)


PER_LANGUAGE_KEY = "per_language"


@dataclasses.dataclass(frozen=True)
class AugmentationPolicy:
    """Default augmentation parameters plus per-language (class-conditional) overrides.

    JSON form: the ``AugmentationConfig`` dict, optionally with ``"per_language": {language:
    {name: {field: value}}}``. An override changes only the fields it names, on top of the
    default, so ``{"Chinese": {"pitch_scale": {"p": 0}}}`` turns pitch scaling off for
    Chinese (a tonal language, where a pitch contour carries meaning) and keeps everything else.
    """

    default: AugmentationConfig = AugmentationConfig()
    overrides: tuple = ()   # ((language, {name: {field: value}}), ...), sorted by language

    def __post_init__(self) -> None:
        for language, override in self.overrides:
            self._merged(override)   # validates names and values now, not on the first example

    def _merged(self, override: Mapping[str, Mapping[str, Any]]) -> AugmentationConfig:
        data = self.default.to_dict()
        for name, fields in override.items():
            if name not in REGISTRY:
                raise ValueError(_unknown(name))
            if not isinstance(fields, Mapping):
                raise ValueError(f"{name}: expected a mapping of parameters, got {fields!r}")
            data[name] = {**data[name], **fields}
        return AugmentationConfig.from_dict(data)

    @property
    def languages(self) -> list[str]:
        return [language for language, _ in self.overrides]

    def for_language(self, language: str | None) -> AugmentationConfig:
        """The parameters for examples of ``language``: the default unless overridden."""
        for name, override in self.overrides:
            if name == language:
                return self._merged(override)
        return self.default

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = self.default.to_dict()
        if self.overrides:
            data[PER_LANGUAGE_KEY] = {language: dict(override) for language, override in self.overrides}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "AugmentationPolicy":
        data = dict(data or {})
        per_language = data.pop(PER_LANGUAGE_KEY, None) or {}
        if not isinstance(per_language, Mapping):
            raise ValueError(f"{PER_LANGUAGE_KEY} must map a language to overrides, got {per_language!r}")
        overrides = tuple(sorted((str(k), json.loads(json.dumps(v))) for k, v in per_language.items()))
        return cls(AugmentationConfig.from_dict(data), overrides)


def _unknown(name: str) -> str:
    return f"unknown augmentation {name!r}; known: {sorted(REGISTRY)}"


# --------------------------------------------------------------------------------------
# Randomness and the pipeline entry point.
# --------------------------------------------------------------------------------------


def rng_for(seed: int, key: str | bytes, copy_index: int) -> np.random.Generator:
    """Generator for one augmented copy, reproducible from (seed, example key, copy).

    Uses SHA-256 rather than ``hash()`` (salted per process), so every Beam worker and
    every run derives the same stream whatever the processing order.
    """
    key_bytes = key if isinstance(key, bytes) else str(key).encode("utf-8")
    h = hashlib.sha256()
    for part in (str(int(seed)).encode(), key_bytes, str(int(copy_index)).encode()):
        h.update(len(part).to_bytes(8, "little"))  # length prefix: no ambiguous concatenation
        h.update(part)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int.from_bytes(h.digest(), "little"))))


def _name_word(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


def augment(
    waveform: Any,
    sample_rate: int,
    rng: np.random.Generator,
    config: AugmentationConfig | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Apply each registered augmentation with its probability; return (waveform, names).

    The input is not modified. The output is float32, of the input's length, finite and
    within [-1, 1] (scaled down, not clipped, if an augmentation pushed the peak over 1).
    A fixed amount (4 words) is drawn from ``rng``; each augmentation then uses a stream
    derived from those and its name, independent of the other augmentations.
    """
    config = config or AugmentationConfig()
    w = _as_waveform(waveform)
    if not np.all(np.isfinite(w)):
        raise ValueError("waveform contains NaN or infinite values")
    n = w.shape[0]
    root = [int(x) for x in rng.integers(0, 2**32, size=4, dtype=np.uint64)]
    applied: list[str] = []
    for params in config:
        if params.p <= 0.0:
            continue
        aug = REGISTRY[params.name]
        sub = np.random.Generator(np.random.PCG64(np.random.SeedSequence(root, spawn_key=(_name_word(aug.name),))))
        if sub.random() >= params.p:
            continue
        kwargs = aug.sample(sub, params, n, sample_rate)
        w = np.asarray(aug.apply(w, sample_rate, sub, **kwargs), dtype=np.float64)
        if w.shape != (n,):
            raise AssertionError(f"{aug.name} changed the length from {n} to {w.shape}")
        applied.append(aug.name)
    out = limit_peak(w)
    if not np.all(np.isfinite(out)):
        raise AssertionError(f"augmentation produced non-finite values (applied: {applied})")
    return out, applied
