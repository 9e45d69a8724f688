"""Waveform augmentation for training segments.

A Beam stage before tf.Transform makes K augmented copies of every TRAIN segment (float32
mono, fixed length, values in [-1, 1]); eval data is never augmented.

Layout (one concern a module):

* ``base``: ``AugmentationParams``, the base class that owns ``p`` and validates JSON
  numbers, the ``@register`` decorator, and shared waveform helpers.
* One module per family, each holding for every augmentation its function (explicit
  parameters, randomness only through a passed ``np.random.Generator``, so it can be tested
  on its own), its parameters dataclass and its registration, side by side:
  ``pitch_speed`` (pitch_scale, time_stretch), ``spectral`` (high_pass, vtlp), ``timing``
  (time_shift, random_crop, time_mask), ``room`` (room_reverb), ``additive_noise``
  (white_noise, background_noise), ``level`` (random_gain, volume, polarity_inversion).
* ``registry``: ``ORDER``, the one tuple that says in which order ``augment`` applies them,
  and ``REGISTRY`` (name -> parameters class, in that order).
* ``policy``: ``AugmentationConfig`` and the per-language ``AugmentationPolicy`` (JSON).
* ``apply``: ``rng_for`` (seed, example key, copy -> rng, via SHA-256 so every worker agrees)
  and ``augment``, which gives each augmentation its own stream derived from the caller's rng
  and the augmentation's name: adding, removing or re-tuning one does not change the random
  choices of the others.
* Plot labels live with the plots, in ``audio/plots.py``.

Adding an augmentation (say ``telephone``) takes two edits:

1. In the family module it belongs to (or a new module, imported at the top of
   ``registry.py``), write the function and, beside it, its parameters::

       def telephone(waveform, sample_rate, low_hz, high_hz) -> np.ndarray: ...

       @register
       @dataclasses.dataclass(frozen=True)
       class TelephoneParams(AugmentationParams):
           name: ClassVar[str] = "telephone"      # the JSON key
           p: float = 0.0                         # off by default: the demo trains as before
           min_low_hz: float = 200.0
           ...
           def _validate(self): self._check_range("min_low_hz", "max_low_hz")
           def sample(self, rng, num_samples, sample_rate):   # one setting, from rng only
               return {"low_hz": float(rng.uniform(self.min_low_hz, self.max_low_hz)), ...}
           @staticmethod
           def apply(waveform, sample_rate, rng, low_hz, high_hz):
               return telephone(waveform, sample_rate, low_hz, high_hz)
           def strongest(self, num_samples, sample_rate):   # optional: what plots show
               return {...}

2. Put ``"telephone"`` in ``registry.ORDER`` where it should run.

The JSON policy, ``--augmentation``, the plots and the augmenter pick it up from the
registry; a name registered but missing from ``ORDER`` (or the reverse) fails at import.
"""
from audio.augment.additive_noise import BackgroundNoiseParams, WhiteNoiseParams, add_background_noise, add_white_noise
from audio.augment.apply import augment, rng_for
from audio.augment.base import AugmentationParams, limit_peak, register
from audio.augment.level import (
                                          PolarityInversionParams,
                                          RandomGainParams,
                                          VolumeParams,
                                          apply_gain,
                                          apply_volume_ramp,
                                          invert_polarity,
)
from audio.augment.pitch_speed import PitchScaleParams, TimeStretchParams, pitch_scale, time_stretch
from audio.augment.policy import PER_LANGUAGE_KEY, AugmentationConfig, AugmentationPolicy
from audio.augment.registry import ORDER, REGISTRY
from audio.augment.room import RoomReverbParams, room_reverb
from audio.augment.spectral import HighPassParams, VtlpParams, high_pass
from audio.augment.timing import RandomCropParams, TimeMaskParams, TimeShiftParams, random_crop, time_mask, time_shift

__all__ = [
    "AugmentationConfig",
    "AugmentationPolicy",
    "AugmentationParams",
    "PER_LANGUAGE_KEY",
    "ORDER",
    "REGISTRY",
    "register",
    "rng_for",
    "augment",
    "limit_peak",
    # functions
    "time_stretch",
    "pitch_scale",
    "high_pass",
    "random_crop",
    "time_shift",
    "room_reverb",
    "add_background_noise",
    "add_white_noise",
    "apply_gain",
    "apply_volume_ramp",
    "invert_polarity",
    "time_mask",
    # parameters
    "TimeStretchParams",
    "PitchScaleParams",
    "VtlpParams",
    "RandomCropParams",
    "TimeShiftParams",
    "RoomReverbParams",
    "HighPassParams",
    "BackgroundNoiseParams",
    "WhiteNoiseParams",
    "RandomGainParams",
    "VolumeParams",
    "PolarityInversionParams",
    "TimeMaskParams",
]
