"""Whisper-base's audio encoder in core TensorFlow ops, on short windows.

Two convolutions (3-tap, GELU; the second strides by 2), sinusoidal position encodings, six
pre-norm transformer layers (8 heads of 64, GELU feed-forward) and a final layer norm, as
CTranslate2's WhisperEncoder (src/layers/whisper.cc) and openai/whisper model.py. Whisper
was trained on 30 s inputs (1500 positions); here a 1-3 s window is encoded on its own, with
the position encodings cut to its length, as CTranslate2 does for any input shorter than
3000 frames: 3 s costs a tenth of the padded 30 s.

The weights enter the graph as tf.constant created while tracing (`Encoder.__call__` under
a tf.function or a preprocessing_fn), in float16 where that is exact (`constant`). Passing
them in as captured eager tensors made TF 2.16 abort in its oneDNN layer-norm rewrite
(`libprotobuf FATAL ... key not found: value`).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.whisper import frontend
from models.whisper.weights import WhisperWeights

WIDTH = 512
HEADS = 8
LAYERS = 6
MAX_POSITIONS = 1500
LN_EPS = 1e-5
HALF_MIN_SIZE = 1 << 16  # values; smaller float32 arrays stay float32 constants (see `constant`)


def layer_norm(x: tf.Tensor, gamma, beta) -> tf.Tensor:
    mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
    return (x - mean) * tf.math.rsqrt(var + LN_EPS) * gamma + beta


def dense(x: tf.Tensor, kernel, bias) -> tf.Tensor:
    """x @ kernel + bias with kernel already [in, out]."""
    return tf.einsum("...i,io->...o", x, kernel) + bias


def attention(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, heads: int = HEADS) -> tf.Tensor:
    """Scaled dot-product attention, [B, Tq, D] x [B, Tk, D] -> [B, Tq, D], no mask."""
    d = q.shape[-1] // heads

    def split(t):
        return tf.reshape(t, [tf.shape(t)[0], tf.shape(t)[1], heads, d])

    scores = tf.einsum("bqhd,bkhd->bhqk", split(q), split(k)) * (1.0 / np.sqrt(d))
    out = tf.einsum("bhqk,bkhd->bqhd", tf.nn.softmax(scores, axis=-1), split(v))
    return tf.reshape(out, [tf.shape(q)[0], tf.shape(q)[1], heads * d])


def gelu(x: tf.Tensor) -> tf.Tensor:
    return tf.nn.gelu(x, approximate=False)


def dense_arrays(w: WhisperWeights, scope: str) -> tuple[np.ndarray, np.ndarray]:
    return np.ascontiguousarray(w[scope + "/weight"].T), w[scope + "/bias"]


def ln_arrays(w: WhisperWeights, scope: str) -> tuple[np.ndarray, np.ndarray]:
    return w[scope + "/gamma"], w[scope + "/beta"]


class Encoder:
    """Log-mel [B, 80, T] -> encoder states [B, ceil(T / 2), 512]; T up to 3000 (30 s)."""

    def __init__(self, weights: WhisperWeights):
        # numpy, laid out for the ops above ([k, in, out] convolutions, [in, out] dense)
        w = weights
        self.arrays = {
            "conv1": (np.ascontiguousarray(w["encoder/conv1/weight"].transpose(2, 1, 0)), w["encoder/conv1/bias"]),
            "conv2": (np.ascontiguousarray(w["encoder/conv2/weight"].transpose(2, 1, 0)), w["encoder/conv2/bias"]),
            "positions": w["encoder/position_encodings/encodings"],
            "final_norm": ln_arrays(w, "encoder/layer_norm"),
        }
        for i in range(LAYERS):
            s = f"encoder/layer_{i}"
            self.arrays[f"layer_{i}"] = {
                "attn_norm": ln_arrays(w, s + "/self_attention/layer_norm"),
                "qkv": dense_arrays(w, s + "/self_attention/linear_0"),
                "out": dense_arrays(w, s + "/self_attention/linear_1"),
                "ffn_norm": ln_arrays(w, s + "/ffn/layer_norm"),
                "ffn_in": dense_arrays(w, s + "/ffn/linear_0"),
                "ffn_out": dense_arrays(w, s + "/ffn/linear_1"),
            }

    def __call__(self, mel: tf.Tensor) -> tf.Tensor:
        """Call while tracing (tf.function, preprocessing_fn): the weights become graph constants."""
        c = constants(self.arrays)
        x = tf.transpose(tf.convert_to_tensor(mel, tf.float32), [0, 2, 1])  # [B, T, 80]
        x = gelu(tf.nn.conv1d(tf.pad(x, [[0, 0], [1, 1], [0, 0]]), c["conv1"][0], 1, "VALID") + c["conv1"][1])
        x = gelu(tf.nn.conv1d(tf.pad(x, [[0, 0], [1, 1], [0, 0]]), c["conv2"][0], 2, "VALID") + c["conv2"][1])
        x = x + c["positions"][: tf.shape(x)[1]]  # encodings cut to the window
        for i in range(LAYERS):
            p = c[f"layer_{i}"]
            h = dense(layer_norm(x, *p["attn_norm"]), *p["qkv"])
            q, k, v = tf.split(h, 3, axis=-1)
            x = x + dense(attention(q, k, v), *p["out"])
            x = x + dense(gelu(dense(layer_norm(x, *p["ffn_norm"]), *p["ffn_in"])), *p["ffn_out"])
        return layer_norm(x, *c["final_norm"])


def constants(tree):
    if isinstance(tree, dict):
        return {k: constants(v) for k, v in tree.items()}
    if isinstance(tree, tuple):
        return tuple(constants(v) for v in tree)
    return constant(tree)


def constant(array: np.ndarray) -> tf.Tensor:
    """A float32 graph constant, held as float16 and cast in-graph when float16 holds it exactly.

    Whisper's weights are stored in float16, so the values are unchanged; a Transform or
    serving graph then carries half the bytes (about 82 MB instead of 163), and so does every
    copy TensorFlow and tf.Transform make of its GraphDefs and FunctionDefs while tracing,
    saving and loading it (bench.scale measures the peak). Only the kernels and tables
    (HALF_MIN_SIZE values or more): biases and layer-norm scales stay plain constants, as the
    oneDNN layer-norm rewrite expects (module docstring).
    """
    array = np.asarray(array)
    if array.dtype == np.float32 and array.size >= HALF_MIN_SIZE:
        half = array.astype(np.float16)
        if np.array_equal(half.astype(np.float32), array):
            return tf.cast(tf.constant(half), tf.float32)
    return tf.constant(array)


def make_window_encoder(weights: WhisperWeights, window_samples: int) -> tf.types.experimental.GenericFunction:
    """tf.function: waveforms float32 [B, window_samples] at 16 kHz -> encoder states [B, frames / 2, 512]."""
    encoder = Encoder(weights)

    @tf.function(input_signature=[tf.TensorSpec([None, window_samples], tf.float32)])
    def encode(waveforms):
        return encoder(frontend.log_mel(waveforms))

    return encode


def make_feature_encoder(weights: WhisperWeights, frames: int | None = None) -> tf.types.experimental.GenericFunction:
    """tf.function: log-mel [B, 80, frames] -> encoder states (parity checks on given features).

    frames=None traces one graph for any length up to 3000.
    """
    encoder = Encoder(weights)

    @tf.function(input_signature=[tf.TensorSpec([None, frontend.N_MELS, frames], tf.float32)])
    def encode(mel):
        return encoder(mel)

    return encode
