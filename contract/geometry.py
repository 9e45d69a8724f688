"""The one window geometry and pooling rule: ingestion, the serving graph (and its .tflite), the chunk merge.

A model sees windows of `window_seconds` of audio; consecutive windows start half a window
apart (the hop). Seconds become samples in one place (`to_samples`). Two grid rules use
that geometry:

- ingestion (`ingestion_starts`, used by audio/segment.py): windows every hop while a whole
  window fits; a trailing remainder becomes one more (zero-padded) window only if that window
  would hold at least half a window of real audio, so padding never dominates a training
  example. A clip shorter than a window gives one padded window; an empty clip, none.
- serving (`serving_window_count`): windows every hop until the whole recording is covered, the
  last one zero-padded, so every sample of a request is heard; an empty request gets one window
  of padding only (weight 0).

At the half-window hop the remainder rule always holds (the extra window begins with the second
half of the last whole window: half a window of real audio already), so for any non-empty clip both grids are the same
windows: the model trains on the windows serving cuts. The rule bites only for a hop longer
than half a window.

Pooling (serving): each window weighs the share of it that is real audio, not padding
(`window_weight`), times 1 if it holds speech and 0 if not; the recording's answer is the
weighted mean of its windows' outputs (`weighted_pool`). A recording without speech pools to zeros.

The rule has two forms side by side: TensorFlow (`tf_*`), which the SavedModel's signatures
apply (models/keras_model/signatures.py) and the .tflite carries in its converted graph
(serving/tflite_model.py), and NumPy, which merges the chunks of a long recording
(serving/windows.py); tests/test_geometry.py checks that they agree.
This module imports TensorFlow only inside the `tf_*` functions, so NumPy-only callers (the
serving command line with a remote model) do not need it.
"""
from __future__ import annotations

import dataclasses

import numpy as np

POOL_EPSILON = 1e-9        # the weighted mean's denominator floor: no speech pools to zeros
MIN_LAST_FRACTION = 0.5    # ingestion: the extra window for a remainder needs this share of real audio


def to_samples(seconds: float, sample_rate: int) -> int:
    """Seconds -> samples, rounded to the nearest sample: the only such conversion of the geometry."""
    return int(round(float(seconds) * int(sample_rate)))


@dataclasses.dataclass(frozen=True)
class WindowGeometry:
    """Windows of `window_seconds` at `sample_rate`, starting every half window."""
    sample_rate: int
    window_seconds: float

    def __post_init__(self):
        if int(self.sample_rate) <= 0 or self.window_samples <= 0:
            raise ValueError(f"window geometry needs a positive rate and window, got {self.sample_rate} Hz, "
                             f"{self.window_seconds} s")

    @classmethod
    def from_samples(cls, sample_rate: int, window_samples: int) -> WindowGeometry:
        """The geometry whose window is exactly `window_samples` long (for callers holding samples)."""
        geometry = cls(int(sample_rate), int(window_samples) / int(sample_rate))
        if geometry.window_samples != int(window_samples):
            raise ValueError(f"{window_samples} samples at {sample_rate} Hz do not round-trip through seconds")
        return geometry

    @property
    def window_samples(self) -> int:
        return to_samples(self.window_seconds, self.sample_rate)

    @property
    def hop_samples(self) -> int:
        return max(1, self.window_samples // 2)

    @property
    def hop_seconds(self) -> float:
        """The hop in seconds, exactly `hop_samples` long: `to_samples` turns it back into the same hop,
        where half of `window_seconds` could round to one sample more for an odd window."""
        return self.hop_samples / int(self.sample_rate)

    def ingestion_starts(self, total: int) -> list[int]:
        return ingestion_starts(total, self.window_samples, self.hop_samples)

    def serving_window_count(self, total: int) -> int:
        return serving_window_count(total, self.window_samples, self.hop_samples)


# -- grids ----------------------------------------------------------------------------------------

def ingestion_starts(total: int, window: int, hop: int, min_last_fraction: float = MIN_LAST_FRACTION) -> list[int]:
    """Start samples of the ingestion windows of a `total`-sample clip (none for an empty one)."""
    if window <= 0 or hop <= 0:
        raise ValueError("segment and hop lengths must be positive")
    if total <= 0:
        return []
    starts = list(range(0, max(total - window, 0) + 1, hop))
    covered = starts[-1] + window
    if total > covered and total - (starts[-1] + hop) >= min_last_fraction * window:
        starts.append(starts[-1] + hop)
    return starts


def serving_window_count(total: int, window: int, hop: int) -> int:
    """How many serving windows cover `total` samples: one, plus one per hop until the end is inside."""
    return 1 + -(-max(total - window, 0) // hop)


def serving_starts(total: int, window: int, hop: int) -> np.ndarray:
    return np.arange(serving_window_count(total, window, hop)) * hop


def real_samples(total, starts, window: int) -> np.ndarray:
    """Samples of real audio (not padding) in each window starting at `starts` of a `total`-sample clip."""
    return np.clip(total - np.asarray(starts), 0, window)


# -- pooling (NumPy) ------------------------------------------------------------------------------

def window_weight(real, window: int) -> np.ndarray:
    """Each window's share of real audio: the `window_weight` output."""
    return np.asarray(real) / window


def pooling_weights(weight, speech) -> np.ndarray:
    """A window's weight in the pooled answer: its real share if it holds speech, else 0."""
    return np.asarray(weight) * (np.asarray(speech) > 0.5)


def weighted_pool(per_window, weights) -> np.ndarray:
    """Weighted mean over the windows (first axis) of per-window outputs; zeros if all weights are 0."""
    weights = np.asarray(weights)
    return (np.asarray(per_window) * weights[:, None]).sum(0) / max(float(weights.sum()), POOL_EPSILON)


# -- the same rule in TensorFlow (batch-first: [batch, windows, ...]) -----------------------------

def tf_serving_window_count(total, window: int, hop: int):
    import tensorflow as tf
    return 1 + (tf.maximum(total - window, 0) + hop - 1) // hop


def tf_real_samples(lengths, starts, window: int):
    """[batch] lengths, [windows] starts -> int32 [batch, windows] real samples per window."""
    import tensorflow as tf
    return tf.clip_by_value(tf.cast(lengths, tf.int32)[:, None] - starts[None, :], 0, window)


def tf_window_weight(real, window: int):
    import tensorflow as tf
    return tf.cast(real, tf.float32) / float(window)


def tf_pooling_weights(real, window: int, speech):
    import tensorflow as tf
    return tf_window_weight(real, window) * tf.cast(speech, tf.float32)


def tf_weighted_pool(per_window, weights):
    """[batch, windows, k] outputs, [batch, windows] weights -> [batch, k] weighted means."""
    import tensorflow as tf
    norm = tf.maximum(tf.reduce_sum(weights, axis=1, keepdims=True), POOL_EPSILON)
    return tf.reduce_sum(per_window * weights[:, :, None], axis=1) / norm
