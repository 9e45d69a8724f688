"""Silence trimming and fixed-length segmentation of a mono waveform."""
from __future__ import annotations

import numpy as np


def trim_silence(waveform: np.ndarray, sample_rate: int, threshold_db: float = -40.0,
                 frame_ms: float = 20.0) -> np.ndarray:
    """Drop leading and trailing frames quieter than `threshold_db` below the loudest frame.

    Returns an empty array for silence (all frames below an absolute floor of -70 dBFS), so
    callers can count and skip it.
    """
    frame = max(1, int(sample_rate * frame_ms / 1000))
    n = len(waveform) // frame
    if n == 0:
        return waveform[:0]
    rms = np.sqrt(np.mean(waveform[: n * frame].reshape(n, frame) ** 2, axis=1) + 1e-20)
    level = 20 * np.log10(rms)
    peak = level.max()
    if peak < -70.0:
        return waveform[:0]
    loud = np.flatnonzero(level >= peak + threshold_db)
    return waveform[loud[0] * frame: (loud[-1] + 1) * frame]


def fixed_segments(waveform: np.ndarray, segment_samples: int, hop_samples: int,
                   min_last_fraction: float = 0.5) -> list[np.ndarray]:
    """Cut windows of `segment_samples` every `hop_samples`, zero-padding the last one.

    A clip shorter than a window gives one padded window. A trailing remainder is kept as a
    padded window only if it holds at least `min_last_fraction` of a window of new audio,
    so padding never dominates a segment.
    """
    if segment_samples <= 0 or hop_samples <= 0:
        raise ValueError("segment and hop lengths must be positive")
    total = len(waveform)
    if total == 0:
        return []
    starts = list(range(0, max(total - segment_samples, 0) + 1, hop_samples))
    covered = starts[-1] + segment_samples
    if total > covered and total - (starts[-1] + hop_samples) >= min_last_fraction * segment_samples:
        starts.append(starts[-1] + hop_samples)
    segments = []
    for start in starts:
        piece = waveform[start: start + segment_samples]
        if len(piece) < segment_samples:
            piece = np.pad(piece, (0, segment_samples - len(piece)))
        segments.append(np.asarray(piece, dtype=np.float32))
    return segments
