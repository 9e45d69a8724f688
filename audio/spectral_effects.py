"""STFT-domain augmentations: time stretch (phase vocoder) and vocal tract length perturbation.

Both need to change one axis of the time-frequency plane and not the other, which plain
resampling (``pitch_scale``) cannot: stretching time must keep the pitch, and VTLP warps the
frequency axis of the spectral envelope (where the formants are). A small STFT with a Hann
window at 75 % overlap is used for both, so analysis and resynthesis are exact inverses
(weighted overlap-add) and no extra dependency is needed.

Everything is whole-array numpy/scipy.fft: frames are a strided view of the signal, and the
overlap-add sums ``N_FFT // HOP`` shifted copies of the frame array instead of looping over
frames (tests/test_augment_stft.py checks both against the frame loop they replaced).
"""
from __future__ import annotations

import functools

import numpy as np
import scipy.fft

N_FFT = 512      # 32 ms at 16 kHz: resolves harmonics of a 120 Hz voice
HOP = N_FFT // 4


@functools.lru_cache(maxsize=8)
def _window(n_fft: int) -> np.ndarray:
    """Hann window of ``n_fft`` points (np.hanning(n_fft + 2) less its zero ends), read-only, made once."""
    window = np.hanning(n_fft + 2)[1:-1]
    window.setflags(write=False)
    return window


def _stft(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """[frames, bins] complex STFT of a zero-padded (n_fft // 2 each side) signal."""
    padded = np.pad(np.asarray(x, dtype=np.float64), (n_fft // 2, n_fft // 2 + hop))
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]   # a view: no copy
    return scipy.fft.rfft(frames * _window(n_fft), axis=-1)


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """Sum of ``frames[i]`` placed at ``i * hop``: ``n_fft // hop`` whole-array adds, no frame loop.

    Frame i's k-th hop-long chunk lands in output block i + k. Adding k from the last chunk
    down adds each block's contributions in frame order, as a frame-by-frame loop would.
    """
    count, n_fft = frames.shape
    if n_fft % hop:
        raise ValueError(f"n_fft ({n_fft}) must be a multiple of hop ({hop})")
    per_frame = n_fft // hop
    chunks = frames.reshape(count, per_frame, hop)
    blocks = np.zeros((count + per_frame - 1, hop))
    for k in range(per_frame - 1, -1, -1):
        blocks[k:k + count] += chunks[:, k]
    return blocks.reshape(-1)


def _istft(spectrum: np.ndarray, length: int, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Weighted overlap-add inverse of ``_stft``, cropped to ``length`` samples."""
    window = _window(n_fft)
    frames = scipy.fft.irfft(spectrum, n=n_fft, axis=-1) * window
    out = _overlap_add(frames, hop)
    norm = _overlap_add(np.broadcast_to(window**2, frames.shape), hop)
    out /= np.where(norm > 1e-8, norm, 1.0)
    out = out[n_fft // 2:]
    return np.pad(out, (0, max(0, length - out.shape[0])))[:length]


def _polar(magnitude: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """``magnitude * exp(1j * phase)`` from one cos and one sin (numpy's complex exp is slower)."""
    out = np.empty(magnitude.shape, dtype=np.complex128)
    out.real = magnitude * np.cos(phase)
    out.imag = magnitude * np.sin(phase)
    return out


def time_stretch(waveform: np.ndarray, rate: float) -> np.ndarray:
    """Phase-vocoder time stretch: ``rate`` > 1 is faster (shorter), pitch unchanged.

    The output has ``round(len / rate)`` samples. Magnitudes are interpolated between
    analysis frames; each bin's phase advances by its measured instantaneous frequency, so
    a tone keeps its frequency while its duration changes.
    """
    if rate <= 0:
        raise ValueError(f"rate must be > 0, got {rate}")
    x = np.asarray(waveform, dtype=np.float64)
    length = int(round(x.shape[0] / rate))
    if rate == 1.0 or x.size == 0:
        return x.copy()
    spec = _stft(x)
    spec = np.concatenate([spec, np.zeros((2, spec.shape[1]), complex)])
    # Magnitude and phase of every analysis frame once; the synthesis steps index into them.
    magnitudes, phases = np.abs(spec), np.angle(spec)
    steps = np.arange(0.0, spec.shape[0] - 2, rate)
    index = steps.astype(int)
    frac = (steps - index)[:, None]
    magnitude = (1.0 - frac) * magnitudes[index] + frac * magnitudes[index + 1]
    expected = 2.0 * np.pi * HOP * np.arange(spec.shape[1]) / N_FFT
    deviation = phases[index + 1] - phases[index] - expected
    deviation -= 2.0 * np.pi * np.round(deviation / (2.0 * np.pi))
    advance = expected + deviation
    phase = phases[0] + np.concatenate([np.zeros((1, spec.shape[1])), np.cumsum(advance[:-1], axis=0)])
    return _istft(_polar(magnitude, phase), length)


def vtlp_warp(freqs_hz: np.ndarray, alpha: float, sample_rate: int, boundary_hz: float = 4800.0) -> np.ndarray:
    """Piecewise-linear VTLP warp (Jaitly & Hinton 2013; Cui et al. 2015).

    Frequencies below ``boundary * min(alpha, 1) / alpha`` are scaled by ``alpha`` (formants
    move with a longer/shorter vocal tract); above it a second line maps the rest onto
    [.., Nyquist] so the warped axis still ends at Nyquist.
    """
    nyquist = sample_rate / 2.0
    knee = boundary_hz * min(alpha, 1.0) / alpha
    f = np.asarray(freqs_hz, dtype=np.float64)
    upper = nyquist - (nyquist - boundary_hz * min(alpha, 1.0)) / (nyquist - knee) * (nyquist - f)
    return np.where(f <= knee, f * alpha, upper)


def vtlp(waveform: np.ndarray, sample_rate: int, alpha: float, boundary_hz: float = 4800.0) -> np.ndarray:
    """Move spectral-envelope energy from f to ``vtlp_warp(f)`` (formants by ~alpha), same length.

    Each frame's magnitude spectrum is resampled along frequency; the phase of the target
    bin is kept, so the timing of the frame (and the waveform's length) is unchanged.
    """
    if not 0.5 <= alpha <= 2.0:
        raise ValueError(f"alpha must be in [0.5, 2], got {alpha}")
    x = np.asarray(waveform, dtype=np.float64)
    if alpha == 1.0 or x.size == 0:
        return x.copy()
    spec = _stft(x)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    source = np.interp(freqs, vtlp_warp(freqs, alpha, sample_rate, boundary_hz), freqs)  # inverse warp
    bins = source * N_FFT / sample_rate
    low = np.clip(bins.astype(int), 0, freqs.size - 1)
    high = np.clip(low + 1, 0, freqs.size - 1)
    frac = bins - low
    magnitude = np.abs(spec)
    warped = (1.0 - frac) * magnitude[:, low] + frac * magnitude[:, high]
    # Each bin's unit phasor, spec / |spec| (1 where the bin is silent, as exp(1j * angle(0)) is).
    phasor = np.divide(spec, magnitude, out=np.ones_like(spec), where=magnitude > 0)
    return _istft(warped * phasor, x.shape[0])
