"""Whisper's own language identification: one decoder step from <|startoftranscript|>.

As openai/whisper decoding.py `detect_language` and CTranslate2's WhisperReplica::detect_language:
the decoder reads the single token <|startoftranscript|> (token embedding + position 0)
against the encoder states, and the softmax over the logits of the 99 language tokens
(<|en|>, <|zh|>, ...) is the language distribution. With one token, self-attention is the
identity on its value projection; cross-attention and the feed-forward do the work. Only
the 99 rows of the output projection are ever multiplied.

Weights become graph constants while tracing, as in encoder.py.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from models.whisper import encoder as enc
from models.whisper.weights import WhisperWeights


class LanguageHead:
    """Encoder states [B, T, 512] -> logits [B, 99] over `languages` (Whisper's order)."""

    def __init__(self, weights: WhisperWeights):
        w = weights
        self.languages = w.languages
        self.arrays = {
            # <|startoftranscript|> at position 0: the decoder's whole input
            "start": (w["decoder/embeddings/weight"][w.sot_id]
                      + w["decoder/position_encodings/encodings"][0])[None, None],
            "final_norm": enc.ln_arrays(w, "decoder/layer_norm"),
            "lang_rows": np.ascontiguousarray(w["decoder/projection/weight"][list(w.lang_ids)].T),  # [512, 99]
        }
        self.num_layers = 0
        while f"decoder/layer_{self.num_layers}/ffn/linear_0/bias" in w.variables:
            self.num_layers += 1
        for i in range(self.num_layers):
            s = f"decoder/layer_{i}"
            qkv_kernel, qkv_bias = enc.dense_arrays(w, s + "/self_attention/linear_0")
            self.arrays[f"layer_{i}"] = {
                "self_norm": enc.ln_arrays(w, s + "/self_attention/layer_norm"),
                "self_v": (np.ascontiguousarray(qkv_kernel[:, 2 * enc.WIDTH:]), qkv_bias[2 * enc.WIDTH:]),
                "self_out": enc.dense_arrays(w, s + "/self_attention/linear_1"),
                "cross_norm": enc.ln_arrays(w, s + "/attention/layer_norm"),
                "cross_q": enc.dense_arrays(w, s + "/attention/linear_0"),
                "cross_kv": enc.dense_arrays(w, s + "/attention/linear_1"),
                "cross_out": enc.dense_arrays(w, s + "/attention/linear_2"),
                "ffn_norm": enc.ln_arrays(w, s + "/ffn/layer_norm"),
                "ffn_in": enc.dense_arrays(w, s + "/ffn/linear_0"),
                "ffn_out": enc.dense_arrays(w, s + "/ffn/linear_1"),
            }

    def __call__(self, states: tf.Tensor) -> tf.Tensor:
        """Call while tracing: the weights become graph constants."""
        c = enc.constants(self.arrays)
        states = tf.convert_to_tensor(states, tf.float32)
        x = tf.tile(c["start"], [tf.shape(states)[0], 1, 1])  # [B, 1, 512]
        for i in range(self.num_layers):
            p = c[f"layer_{i}"]
            x = x + enc.dense(enc.dense(enc.layer_norm(x, *p["self_norm"]), *p["self_v"]), *p["self_out"])
            q = enc.dense(enc.layer_norm(x, *p["cross_norm"]), *p["cross_q"])
            k, v = tf.split(enc.dense(states, *p["cross_kv"]), 2, axis=-1)
            x = x + enc.dense(enc.attention(q, k, v), *p["cross_out"])
            x = x + enc.dense(enc.gelu(enc.dense(enc.layer_norm(x, *p["ffn_norm"]), *p["ffn_in"])), *p["ffn_out"])
        x = enc.layer_norm(x, *c["final_norm"])
        return tf.einsum("bi,il->bl", x[:, 0], c["lang_rows"])


def restrict(logits: tf.Tensor, languages: tuple[str, ...], keep: tuple[str, ...]) -> tf.Tensor:
    """Probabilities over the languages in `keep` only (softmax of their logits), in keep's order."""
    return tf.nn.softmax(tf.gather(logits, [languages.index(code) for code in keep], axis=-1), axis=-1)


def make_head_fn(weights: WhisperWeights) -> tf.types.experimental.GenericFunction:
    """tf.function: encoder states [B, T, 512] -> probabilities [B, 99] (for parity on given states)."""
    head = LanguageHead(weights)

    @tf.function(input_signature=[tf.TensorSpec([None, None, enc.WIDTH], tf.float32)])
    def probabilities(states):
        return tf.nn.softmax(head(states), axis=-1)

    return probabilities
