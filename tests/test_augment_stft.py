"""The whole-array STFT, overlap-add, phase vocoder and VTLP of audio/spectral_effects.py give what
the frame-by-frame code they replaced gave (kept below, verbatim from commit 922a725, as the
reference implementation)."""
from __future__ import annotations

import numpy as np
import pytest

from audio import spectral_effects as fast

N_FFT, HOP = 512, 128


def ref_stft(x, n_fft=N_FFT, hop=HOP):
    padded = np.pad(np.asarray(x, dtype=np.float64), (n_fft // 2, n_fft // 2 + hop))
    count = 1 + (padded.shape[0] - n_fft) // hop
    index = np.arange(n_fft)[None, :] + hop * np.arange(count)[:, None]
    return np.fft.rfft(padded[index] * np.hanning(n_fft + 2)[1:-1], axis=-1)


def ref_istft(spectrum, length, n_fft=N_FFT, hop=HOP):
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


def ref_time_stretch(waveform, rate):
    x = np.asarray(waveform, dtype=np.float64)
    length = int(round(x.shape[0] / rate))
    if rate == 1.0 or x.size == 0:
        return x.copy()
    spec = ref_stft(x)
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
    return ref_istft(magnitude * np.exp(1j * phase), length)


def ref_vtlp(waveform, sample_rate, alpha, boundary_hz=4800.0):
    x = np.asarray(waveform, dtype=np.float64)
    if alpha == 1.0 or x.size == 0:
        return x.copy()
    spec = ref_stft(x)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sample_rate)
    source = np.interp(freqs, fast.vtlp_warp(freqs, alpha, sample_rate, boundary_hz), freqs)
    bins = source * N_FFT / sample_rate
    low = np.clip(bins.astype(int), 0, freqs.size - 1)
    high = np.clip(low + 1, 0, freqs.size - 1)
    frac = bins - low
    magnitude = np.abs(spec)
    warped = (1.0 - frac) * magnitude[:, low] + frac * magnitude[:, high]
    return ref_istft(warped * np.exp(1j * np.angle(spec)), x.shape[0])


def signal(length, seed=0):
    """Noise plus a tone, with a silent stretch (zero bins: the phase of 0 must match too)."""
    rng = np.random.default_rng(seed)
    x = 0.3 * rng.standard_normal(length) + 0.5 * np.sin(2 * np.pi * 440 * np.arange(length) / 16000)
    x[length // 3: length // 3 + min(2000, length // 4)] = 0.0
    return x


LENGTHS = [1, 100, 511, 512, 513, 4000, 48000]


@pytest.mark.parametrize("length", LENGTHS)
def test_stft_and_istft_match_the_frame_loop(length):
    x = signal(length)
    spec = fast._stft(x)
    np.testing.assert_allclose(spec, ref_stft(x), rtol=0, atol=1e-9)
    for out_length in (length, length + 300, max(1, length // 2)):
        np.testing.assert_allclose(fast._istft(spec, out_length), ref_istft(spec, out_length), rtol=0, atol=1e-12)


def test_overlap_add_places_each_frame_at_its_hop():
    frames = np.arange(3 * 8, dtype=np.float64).reshape(3, 8) + 1.0
    expected = np.zeros(8 + 2 * 2)
    for i, frame in enumerate(frames):
        expected[2 * i: 2 * i + 8] += frame
    np.testing.assert_array_equal(fast._overlap_add(frames, 2), expected)
    with pytest.raises(ValueError, match="multiple"):
        fast._overlap_add(np.ones((2, 8)), 3)


@pytest.mark.parametrize("length", [513, 4000, 48000])
@pytest.mark.parametrize("rate", [0.5, 0.85, 1.0, 1.15, 2.0])
def test_time_stretch_matches_the_frame_loop(length, rate):
    x = signal(length, seed=1)
    out = fast.time_stretch(x, rate)
    assert out.shape == (int(round(length / rate)),)
    np.testing.assert_allclose(out, ref_time_stretch(x, rate), rtol=0, atol=1e-9)


@pytest.mark.parametrize("length", [513, 4000, 48000])
@pytest.mark.parametrize("alpha", [0.5, 0.9, 1.0, 1.1, 2.0])
def test_vtlp_matches_the_frame_loop(length, alpha):
    x = signal(length, seed=2)
    np.testing.assert_allclose(fast.vtlp(x, 16000, alpha), ref_vtlp(x, 16000, alpha), rtol=0, atol=1e-9)
