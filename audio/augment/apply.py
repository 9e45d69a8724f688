"""Applying a configuration to one segment: seeded randomness and the ``augment`` entry point."""
from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from audio.augment.base import as_waveform, limit_peak
from audio.augment.policy import AugmentationConfig
from audio.augment.registry import REGISTRY


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
    w = as_waveform(waveform)
    if not np.all(np.isfinite(w)):
        raise ValueError("waveform contains NaN or infinite values")
    n = w.shape[0]
    root = [int(x) for x in rng.integers(0, 2**32, size=4, dtype=np.uint64)]
    applied: list[str] = []
    for params in config:
        if params.p <= 0.0:
            continue
        sub = np.random.Generator(np.random.PCG64(np.random.SeedSequence(root, spawn_key=(_name_word(params.name),))))
        if sub.random() >= params.p:
            continue
        setting = params.sample(sub, n, sample_rate)
        w = np.asarray(REGISTRY[params.name].apply(w, sample_rate, sub, **setting), dtype=np.float64)
        if w.shape != (n,):
            raise AssertionError(f"{params.name} changed the length from {n} to {w.shape}")
        applied.append(params.name)
    out = limit_peak(w)
    if not np.all(np.isfinite(out)):
        raise AssertionError(f"augmentation produced non-finite values (applied: {applied})")
    return out, applied
