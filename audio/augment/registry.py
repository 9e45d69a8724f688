"""The one place that says which augmentations exist and the order ``augment`` applies them."""
from __future__ import annotations

from audio.augment import additive_noise, level, pitch_speed, room, spectral, timing  # noqa: F401  (register)
from audio.augment.base import AugmentationParams, registered

# Pitch, tempo and spectral shape first (they change the content), then crops and shifts, then
# the room (it smears what was said), filtering, and noise (its level follows the processed
# signal); gain and polarity act on signal+noise together; masks last, so masked spans are
# true silence.
ORDER = (
    "time_stretch",
    "pitch_scale",
    "vtlp",
    "random_crop",
    "time_shift",
    "room_reverb",
    "high_pass",
    "background_noise",
    "white_noise",
    "random_gain",
    "volume",
    "polarity_inversion",
    "time_mask",
)


def _in_order(order: tuple, known: dict) -> dict[str, type[AugmentationParams]]:
    missing = [name for name in order if name not in known]
    if missing:
        raise ValueError(f"ORDER names unregistered augmentation(s) {missing}; registered: {sorted(known)}")
    unplaced = sorted(set(known) - set(order))
    if unplaced:
        raise ValueError(f"augmentation(s) {unplaced} registered but missing from ORDER in {__name__}")
    if len(set(order)) != len(order):
        raise ValueError("ORDER names an augmentation twice")
    return {name: known[name] for name in order}


REGISTRY: dict[str, type[AugmentationParams]] = _in_order(ORDER, registered())
"""Every augmentation's parameters class by name, in the order ``augment`` applies them."""


def unknown_name(name: str) -> str:
    """The error message for a name that is not an augmentation."""
    return f"unknown augmentation {name!r}; known: {sorted(REGISTRY)}"
