"""Pooled Whisper-base encoder features: waveform windows -> one fixed-size vector per window.

For transfer learning: a window of 16 kHz audio [B, n] goes through Whisper's log-mel and
encoder (n // 320 states of 512) and is pooled over time into mean and standard deviation
(1024 float32 = 4096 bytes a window) or the mean alone (512 float32 = 2048 bytes). Pure
graph ops with the weights as constants, so the same call works in a tf.function, in
tf.Transform's preprocessing_fn (traced in a v1 graph) and in a serving signature; a
Transform graph that holds it carries the encoder's ~80 MB of float32 constants.
"""
from __future__ import annotations

import functools

import tensorflow as tf

from models.whisper import frontend, weights
from models.whisper.encoder import WIDTH, Encoder
from models.whisper.language import LanguageHead

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
    """waveforms float32 [B, n] at 16 kHz (n static, 1-3 s) -> pooled encoder features [B, dim].

    Holds the weights' location, not the weights: Beam pickles a preprocessing_fn's closure
    into every stage (dill + bz2), and ~80 MB of captured arrays made a 4-row Transform
    run take minutes. The weights are read, verified and cached once per process, when the
    first graph is traced.
    """

    def __init__(self, location: str | None = None, pooling: str = "mean_std"):
        if pooling not in POOLINGS:
            raise ValueError(f"pooling {pooling!r}: one of {sorted(POOLINGS)}")
        self.location = location  # None: weights.default_dir() of the process that traces
        self.pooling = pooling
        self.dim = WIDTH * POOLINGS[pooling]
        self.bytes_per_window = 4 * self.dim

    def __call__(self, waveforms: tf.Tensor) -> tf.Tensor:
        """Call while tracing (tf.function, preprocessing_fn): the weights become graph constants."""
        return pool(encoder_for(self.location)(frontend.log_mel(waveforms)), self.pooling)


class WindowFeatures(Embedder):
    """waveforms [B, n] -> (pooled features [B, dim], Whisper's log-probabilities [B, 99]), one encoder pass.

    What Transform computes for the `whisper` representation: the pooled states feed the
    Keras head, the log-softmax of the language head's logits (Whisper's order,
    models.whisper.languages.CODES) is the zero-shot term. 4 * (dim + 99) bytes a window.
    """

    def __init__(self, location: str | None = None, pooling: str = "mean_std"):
        super().__init__(location, pooling)
        self.bytes_per_window = 4 * (self.dim + NUM_LANGUAGES)

    def __call__(self, waveforms: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Call while tracing: adds one call to the process's traced function (window_features_fn)."""
        waveforms = tf.convert_to_tensor(waveforms, tf.float32)
        return window_features_fn(self.location, self.pooling, waveforms.shape[-1])(waveforms)


NUM_LANGUAGES = 99
_WEIGHTS: dict[str, weights.WhisperWeights] = {}
_ENCODERS: dict[str, Encoder] = {}
_HEADS: dict[str, LanguageHead] = {}


def weights_for(location: str | None = None) -> weights.WhisperWeights:
    """The verified weights at location (default: the installed copy), read once a process."""
    location = location or weights.default_dir()
    if location not in _WEIGHTS:
        _WEIGHTS[location] = weights.load(location)
    return _WEIGHTS[location]


def encoder_for(location: str | None = None) -> Encoder:
    """The Encoder of the weights at location (default: the installed copy), loaded once a process."""
    location = location or weights.default_dir()
    if location not in _ENCODERS:
        _ENCODERS[location] = Encoder(weights_for(location))
    return _ENCODERS[location]


def language_head_for(location: str | None = None) -> LanguageHead:
    """The LanguageHead of the weights at location, built once a process."""
    location = location or weights.default_dir()
    if location not in _HEADS:
        _HEADS[location] = LanguageHead(weights_for(location))
    return _HEADS[location]


def window_features_fn(location: str | None, pooling: str,
                       window_samples: int | None) -> tf.types.experimental.GenericFunction:
    """tf.function: waveforms [B, window_samples] -> (pooled [B, dim], log-probabilities [B, 99]),
    traced once a process for the latest (weights, pooling, window).

    tf.Transform traces a preprocessing_fn nine times in one Transform run (column inspection,
    analysis, schema, the saved graph). Building the encoder and language head in each trace
    (about 2,000 ops and their 80 MB of constants) cost 19 s of a profiled 30-minute Transform
    (docs/benchmarks.md); a call to a function already traced costs each later trace one op,
    and the graph TensorFlow saves holds the function once. One function is kept: once run, a
    function holds about 1.3 GB (constants folded to float32, oneDNN's weight layouts), and a
    Transform process needs only one.
    """
    if window_samples is None:
        raise ValueError("Whisper windows need a static length (samples per window)")
    return _window_features_fn(location or weights.default_dir(), pooling, int(window_samples))


@functools.lru_cache(maxsize=1)
def _window_features_fn(location: str, pooling: str, window_samples: int) -> tf.types.experimental.GenericFunction:
    # autograph off: straight-line graph code, nothing to convert (AutoGraph took seconds of the trace)
    @tf.function(input_signature=[tf.TensorSpec([None, window_samples], tf.float32)], autograph=False)
    def window_features(waveforms):
        states = encoder_for(location)(frontend.log_mel(waveforms))
        logits = language_head_for(location)(states)
        return pool(states, pooling), tf.nn.log_softmax(logits, axis=-1)

    return window_features
