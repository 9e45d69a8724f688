"""STFT-domain augmentations: time stretch (phase vocoder) and vocal tract length perturbation.

Both need to change one axis of the time-frequency plane and not the other, which plain
resampling (``pitch_scale``) cannot: stretching time must keep the pitch, and VTLP warps the
frequency axis of the spectral envelope (where the formants are). A small numpy STFT with a
Hann window at 75 % overlap is used for both, so analysis and resynthesis are exact inverses
(weighted overlap-add) and no extra dependency is needed.
"""
from __future__ import annotations

import numpy as np

N_FFT = 512      # 32 ms at 16 kHz: resolves harmonics of a 120 Hz voice
HOP = N_FFT // 4


def _stft(x: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """[frames, bins] complex STFT of a zero-padded (n_fft // 2 each side) signal."""
    padded = np.pad(np.asarray(x, dtype=np.float64), (n_fft // 2, n_fft // 2 + hop))
    count = 1 + (padded.shape[0] - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    return np.fft.rfft(padded[index] * np.hanning(n_fft + 2)[1:-1], axis=-1)


def _istft(spectrum: np.ndarray, length: int, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Weighted overlap-add inverse of ``_stft``, cropped to ``length`` samples."""
    window = np.hanning(n_fft + 2)[1:-1]
    frames = np.fft.irfft(spectrum, n=n_fft, axis=-1) * window
    total = n_fft + hop * (frames.shape[0] - 1)
    out, norm = np.zeros(total), np.zeros(total)
    for i, frame in enumerate(frames):
        out[i * hop: i * hop + n_fft] += frame
        norm[i * hop: i * hop + n_fft] += window**2
    out /= np.where(norm > 1e-8, norm, 1.0)
    out = out[n_fft // 2:]
    return np.pad(out, (0, max(0, length - out.shape[0])))[:length]


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
    steps = np.arange(0.0, spec.shape[0] - 2, rate)
    index = steps.astype(int)
    frac = (steps - index)[:, None]
    magnitude = (1.0 - frac) * np.abs(spec[index]) + frac * np.abs(spec[index + 1])
    expected = 2.0 * np.pi * HOP * np.arange(spec.shape[1]) / N_FFT
    deviation = np.angle(spec[index + 1]) - np.angle(spec[index]) - expected
    deviation -= 2.0 * np.pi * np.round(deviation / (2.0 * np.pi))
    advance = expected + deviation
    phase = np.angle(spec[0]) + np.concatenate([np.zeros((1, spec.shape[1])), np.cumsum(advance[:-1], axis=0)])
    return _istft(magnitude * np.exp(1j * phase), length)


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
    return _istft(warped * np.exp(1j * np.angle(spec)), x.shape[0])
