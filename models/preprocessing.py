"""tf.Transform preprocessing: waveform segment -> normalised log-mel and MFCC.

Only core TensorFlow ops (tf.signal), so the transform graph that serving inherits loads in
stock TF Serving. The per-band mean and variance are full-pass analyzers over the train
split; everything else is per-example.
"""
from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from models import features

_EPSILON = 1e-6
_AUDIBLE_RATIO = 1e-5  # -50 dB


def segment_samples(config: dict) -> int:
    return int(round(config["segment_seconds"] * config["sample_rate"]))


def fixed_length(waveform: tf.Tensor, length: int) -> tf.Tensor:
    """Crop or zero-pad a [batch, samples] waveform to exactly `length` samples."""
    waveform = waveform[:, :length]
    waveform = tf.pad(waveform, [[0, 0], [0, length - tf.shape(waveform)[1]]])
    return tf.reshape(waveform, [-1, length])


def spectral_features(waveform: tf.Tensor, config: dict) -> tuple[tf.Tensor, tf.Tensor]:
    """[batch, samples] -> (log-mel [batch, frames, mels], MFCC [batch, frames, coefficients])."""
    rate = config["sample_rate"]
    frame = int(round(rate * config["frame_ms"] / 1000))
    hop = int(round(rate * config["hop_ms"] / 1000))
    fft_length = int(config["fft_length"])
    stft = tf.signal.stft(waveform, frame_length=frame, frame_step=hop, fft_length=fft_length,
                          window_fn=tf.signal.hann_window)
    power = tf.math.square(tf.math.abs(stft))
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=int(config["num_mel_bins"]), num_spectrogram_bins=fft_length // 2 + 1,
        sample_rate=rate, lower_edge_hertz=float(config["lower_hz"]), upper_edge_hertz=float(config["upper_hz"]))
    mel = tf.tensordot(power, mel_matrix, axes=1)
    mel.set_shape(power.shape[:-1].concatenate(mel_matrix.shape[-1:]))
    log_mel = tf.math.log(mel + _EPSILON)
    mfcc = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., : int(config["num_mfcc"])]
    if config.get("utterance_norm", True):
        # Frames more than 50 dB below the loudest (the zero padding of a clip's last window,
        # digital silence) are left out of the utterance's mean and set to it, so padding
        # does not shift the features of the audio it pads.
        power = tf.reduce_sum(mel, axis=-1, keepdims=True)
        audible = tf.cast(power > _AUDIBLE_RATIO * tf.reduce_max(power, axis=1, keepdims=True), tf.float32)
        count = tf.maximum(tf.reduce_sum(audible, axis=1, keepdims=True), 1.0)
        log_mel = (log_mel - tf.reduce_sum(log_mel * audible, axis=1, keepdims=True) / count) * audible
        mfcc = (mfcc - tf.reduce_sum(mfcc * audible, axis=1, keepdims=True) / count) * audible
    return log_mel, mfcc


def _normalise_per_band(x: tf.Tensor) -> tf.Tensor:
    """z-score each band (last axis) with mean and variance over all train frames."""
    bands = x.shape[-1]
    flat = tf.reshape(x, [-1, bands])
    mean = tft.mean(flat, reduce_instance_dims=False)
    var = tft.var(flat, reduce_instance_dims=False)
    return (x - mean) * tf.math.rsqrt(var + _EPSILON)


def preprocessing_fn(inputs: dict, custom_config: dict) -> dict:
    """tf.Transform entry point (Transform component, `preprocessing_fn` path)."""
    waveform = inputs[features.WAVEFORM]
    if isinstance(waveform, tf.SparseTensor):
        waveform = tf.sparse.to_dense(waveform)
    waveform = fixed_length(tf.cast(waveform, tf.float32), segment_samples(custom_config))
    log_mel, mfcc = spectral_features(waveform, custom_config)
    outputs = {
        features.LOG_MEL: _normalise_per_band(log_mel),
        features.MFCC: _normalise_per_band(mfcc),
    }
    if features.LABEL in inputs:
        outputs[features.LABEL_OUT] = tf.reshape(inputs[features.LABEL], [-1, 1])
    return outputs
