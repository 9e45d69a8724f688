"""Pooled Whisper-base encoder features: waveform windows -> one fixed-size vector per window.

For transfer learning: a window of 16 kHz audio [B, n] goes through Whisper's log-mel and
encoder (n // 320 states of 512) and is pooled over time into mean and standard deviation
(1024 float32 = 4096 bytes a window) or the mean alone (512 float32 = 2048 bytes). Pure
graph ops with the weights as constants, so the same call works in a tf.function, in
tf.Transform's preprocessing_fn (traced in a v1 graph) and in a serving signature; a
Transform graph that holds it carries the encoder's ~80 MB of float32 constants.
"""
from __future__ import annotations

import tensorflow as tf

from models.whisper import frontend
from models.whisper.encoder import WIDTH, Encoder
from models.whisper.weights import WhisperWeights

POOLINGS = {"mean": 1, "mean_std": 2}  # pooling -> vectors of WIDTH per window


def pool(states: tf.Tensor, pooling: str = "mean_std") -> tf.Tensor:
    """Encoder states [B, T, 512] -> [B, 512] (mean) or [B, 1024] (mean, then std)."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling {pooling!r}: one of {sorted(POOLINGS)}")
    mean, var = tf.nn.moments(states, axes=[1])
    if pooling == "mean":
        return mean
    return tf.concat([mean, tf.sqrt(tf.maximum(var, 0.0))], axis=-1)


class Embedder:
    """waveforms float32 [B, n] at 16 kHz (n static, 1-3 s) -> pooled encoder features [B, dim]."""

    def __init__(self, weights: WhisperWeights, pooling: str = "mean_std"):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling {pooling!r}: one of {sorted(POOLINGS)}")
        self.encoder = Encoder(weights)
        self.pooling = pooling
        self.dim = WIDTH * POOLINGS[pooling]
        self.bytes_per_window = 4 * self.dim

    def __call__(self, waveforms: tf.Tensor) -> tf.Tensor:
        """Call while tracing (tf.function, preprocessing_fn): the weights become graph constants."""
        return pool(self.encoder(frontend.log_mel(waveforms)), self.pooling)


def make_embedding_fn(weights: WhisperWeights, window_samples: int,
                      pooling: str = "mean_std") -> tf.types.experimental.GenericFunction:
    """tf.function: waveforms float32 [B, window_samples] -> pooled features [B, 512 or 1024]."""
    embedder = Embedder(weights, pooling)

    @tf.function(input_signature=[tf.TensorSpec([None, window_samples], tf.float32)])
    def embed(waveforms):
        return embedder(waveforms)

    return embed
