"""See what the model is trained on: PNGs of one clip, augmented and represented.

The command line is `python -m reports.plots` (it fills these functions' arguments from
the typed config in config/); everything here takes its settings as arguments.
"""
from __future__ import annotations

import os

import numpy as np

from config import FeatureConfig


def load_clip(path: str, sample_rate: int, seconds: float) -> np.ndarray:
    """The first `seconds` of the clip after trimming (audio/speech.py, as ingestion), mono at `sample_rate`."""
    from audio import speech
    from audio.decode import decode_audio

    with open(path, "rb") as f:
        waveform = decode_audio(f.read(), sample_rate)
    trimmed = speech.trim(waveform, sample_rate)
    waveform = trimmed if trimmed.size else waveform
    return waveform[: int(seconds * sample_rate)]


def compute_representations(waveform: np.ndarray, features: FeatureConfig, sample_rate: int) -> dict[str, np.ndarray]:
    import tensorflow as tf

    from models.preprocessing import representations

    out = representations(tf.constant(waveform[None].astype(np.float32)), features, sample_rate)
    return {name: value.numpy()[0] for name, value in out.items()}


def write_pictures(waveform: np.ndarray, out_dir: str, title: str, *, seed: int, augmentation_policy: dict,
                   features: FeatureConfig, sample_rate: int) -> list[str]:
    """Every augmentation applied alone (all together and one PNG each), then every representation.

    `augmentation_policy` is audio.augment's JSON form (its default config is drawn at the
    strongest setting each augmentation allows, whatever its probability); `features` are
    what models.preprocessing computes at `sample_rate`.
    """
    from audio.augment import REGISTRY, AugmentationPolicy
    from audio.plots import plot_augmentations, plot_representations

    rate = sample_rate
    os.makedirs(out_dir, exist_ok=True)
    written = []
    config = AugmentationPolicy.from_dict(augmentation_policy).default
    written.append(plot_augmentations(waveform, rate, os.path.join(out_dir, "augmentations.png"), seed, config))
    for name in REGISTRY:
        written.append(plot_augmentations(waveform, rate, os.path.join(out_dir, f"augment_{name}.png"), seed,
                                          config, names=[name]))
    values = compute_representations(waveform, features, rate)
    plot_args = dict(sample_rate=rate, hop_ms=features.hop_ms, lower_hz=features.lower_hz, upper_hz=features.upper_hz)
    written.append(plot_representations(values, out_path=os.path.join(out_dir, "representations.png"), title=title,
                                        **plot_args))
    for name, value in values.items():
        written.append(plot_representations({name: value}, out_path=os.path.join(out_dir, f"representation_{name}.png"),
                                            title=title, **plot_args))
    return written
