"""Whisper's front end in core TensorFlow ops: 16 kHz waveform -> 80-band log-mel, 100 frames/s.

Same arithmetic as faster-whisper's FeatureExtractor (and openai/whisper audio.py): 400-sample
periodic Hann window, hop 160, reflect-padded centred STFT (the 400-point DFT as a matmul)
of the waveform with 160 zeros appended, power spectrum, Slaney mel filters, log10 floored at
1e-10, dynamic range clipped to 8 (a factor 1e8) below each example's peak, then (x + 4) / 4.
A window of n samples gives n // 160 frames, as faster-whisper's `extractor(chunk)[..., :-1]`; the peak is taken over
those frames plus the last one dropped, as faster-whisper does.

Pure graph ops (pad, frame, matmul): usable inside a tf.function or a tf.Transform
preprocessing_fn; no weights.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80


def mel_filters(n_mels: int = N_MELS, sr: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """Slaney-scale, Slaney-normalised mel filterbank [n_mels, n_fft // 2 + 1] (librosa's default)."""
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mels = np.linspace(0.0, 45.245640471924965, n_mels + 2)  # 0 Hz .. 8 kHz in Slaney mels
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, np.log(6.4) / 27.0
    log_t = mels >= min_log_mel
    freqs[log_t] = min_log_hz * np.exp(logstep * (mels[log_t] - min_log_mel))
    fdiff = np.diff(freqs)
    ramps = freqs.reshape(-1, 1) - fftfreqs.reshape(1, -1)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (freqs[2:n_mels + 2] - freqs[:n_mels]))[:, None]
    return weights.astype(np.float32)


def dft_matrices(n_fft: int = N_FFT) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of the real DFT [n_fft, n_fft // 2 + 1] (float32): x @ cos and x @ sin are the
    real part and minus the imaginary part of np.fft.rfft(x)."""
    angles = 2.0 * np.pi * np.outer(np.arange(n_fft), np.arange(n_fft // 2 + 1)) / n_fft
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def num_frames(num_samples: int) -> int:
    """Log-mel frames for a window of num_samples (100 per second)."""
    return num_samples // HOP


def log_mel(waveforms: tf.Tensor) -> tf.Tensor:
    """float32 [B, n] waveforms at 16 kHz -> log-mel [B, 80, n // 160] (Whisper's layout)."""
    waveforms = tf.convert_to_tensor(waveforms, tf.float32)
    n = waveforms.shape[-1]
    if n is None:
        raise ValueError("log_mel needs a static window length (samples)")
    x = tf.pad(waveforms, [[0, 0], [0, HOP]])
    x = tf.pad(x, [[0, 0], [N_FFT // 2, N_FFT // 2]], mode="REFLECT")
    frames = tf.signal.frame(x, N_FFT, HOP)  # [B, 1 + (n + 160) // 160, 400]
    window = tf.constant(np.hanning(N_FFT + 1)[:-1].astype(np.float32))
    windowed = (frames * window)[:, :-1, :]  # faster-whisper drops the last frame
    # The 400-point DFT as two matmuls: TFLite's RFFT takes power-of-two lengths only, and a
    # zero-padded 512-point FFT would move the bins; [400, 201] x 2 costs little beside the encoder.
    cos, sin = dft_matrices()
    real = tf.einsum("btn,nf->btf", windowed, tf.constant(cos))
    imag = tf.einsum("btn,nf->btf", windowed, tf.constant(sin))
    power = tf.math.square(real) + tf.math.square(imag)
    mel = tf.einsum("btf,mf->bmt", power, tf.constant(mel_filters()))
    logs = tf.math.log(tf.maximum(mel, 1e-10)) / np.log(10.0).astype(np.float32)
    peak = tf.reduce_max(logs, axis=[1, 2], keepdims=True)
    logs = tf.maximum(logs, peak - 8.0)
    return ((logs + 4.0) / 4.0)[:, :, :num_frames(n)]
