"""Noise for augmentation: coloured noise, a shipped background-noise bank, mixing at an SNR.

The bank (``audio/noise_bank/*.wav``, written by ``audio/noise_bank/generate_noise_bank.py``) holds a few
seconds each of white, pink and brown noise and of babble made from demo clips. It is small
on purpose (well under 1 MB): a segment takes a random excerpt, so a few seconds per kind
give many different backgrounds. ``LANGID_NOISE_BANK`` points at another folder of WAV/FLAC
files (a real noise corpus such as MUSAN) without code changes.
"""
from __future__ import annotations

import functools
import hashlib
import math
import os
from pathlib import Path

import numpy as np
import soundfile
import soxr

DEFAULT_BANK_DIR = Path(__file__).resolve().parent / "noise_bank"  # package data, so Beam workers get it too

# Power spectral density ~ f**-exponent.
COLOUR_EXPONENTS = {"violet": -2.0, "blue": -1.0, "white": 0.0, "pink": 1.0, "brown": 2.0}


def coloured_noise(rng: np.random.Generator, num_samples: int, colour: str = "white") -> np.ndarray:
    """Gaussian noise with power ~ f**-exponent (white, pink, brown, blue, violet), unit RMS."""
    if colour not in COLOUR_EXPONENTS:
        raise ValueError(f"unknown noise colour {colour!r}; known: {sorted(COLOUR_EXPONENTS)}")
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.fft.rfftfreq(num_samples)
    freqs[0] = freqs[1] if num_samples > 1 else 1.0   # no infinite DC gain for pink/brown
    spectrum *= freqs ** (-COLOUR_EXPONENTS[colour] / 2.0)
    noise = np.fft.irfft(spectrum, n=num_samples)
    noise -= noise.mean()
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def mix_at_snr(signal: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """signal + noise scaled so that 10*log10(P_signal / P_noise) == snr_db exactly.

    A silent signal (or silent noise) is returned unchanged: there is no level to scale to.
    """
    signal = np.asarray(signal, dtype=np.float64)
    noise = np.asarray(noise, dtype=np.float64)
    if noise.shape != signal.shape:
        raise ValueError(f"noise shape {noise.shape} != signal shape {signal.shape}")
    p_signal, p_noise = float(np.mean(signal**2)), float(np.mean(noise**2))
    if p_signal == 0.0 or p_noise == 0.0:
        return signal.copy()
    return signal + noise * math.sqrt(p_signal / p_noise / 10.0 ** (snr_db / 10.0))


def bank_dir() -> Path:
    return Path(os.environ.get("LANGID_NOISE_BANK") or DEFAULT_BANK_DIR)


def bank_digest(directory: Path | None = None) -> str:
    """Digest of the noise files' names and bytes: part of the augmenter's cache key, so
    pointing LANGID_NOISE_BANK at another corpus re-runs augmentation instead of reusing it."""
    directory = Path(directory or bank_dir())
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.glob("*") if p.suffix.lower() in (".wav", ".flac")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@functools.lru_cache(maxsize=4)
def load_bank(directory: str, sample_rate: int) -> tuple[tuple[str, np.ndarray], ...]:
    """(name, mono float64 waveform at sample_rate) for every WAV/FLAC in directory, sorted by name.

    Cached per process, so a Beam worker reads the bank once, not once per example.
    """
    paths = sorted(p for p in Path(directory).glob("*") if p.suffix.lower() in (".wav", ".flac"))
    if not paths:
        raise FileNotFoundError(f"no .wav/.flac noise files in {directory} "
                                "(run audio/noise_bank/generate_noise_bank.py or set LANGID_NOISE_BANK)")
    bank = []
    for path in paths:
        audio, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
        mono = audio.mean(axis=1)
        if rate != sample_rate:
            mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
        if mono.size == 0 or not np.any(mono):
            raise ValueError(f"noise file {path} is empty or silent")
        bank.append((path.stem, mono))
    return tuple(bank)


def bank_excerpt(bank, index: int, offset_fraction: float, num_samples: int) -> np.ndarray:
    """``num_samples`` of bank entry ``index`` from a relative offset, looping if it is shorter."""
    _, noise = bank[index % len(bank)]
    start = int(offset_fraction * noise.shape[0]) % noise.shape[0]
    reps = -(-(start + num_samples) // noise.shape[0])
    return np.tile(noise, reps)[start:start + num_samples]
