"""Fixed-length segmentation of a mono waveform (trimming is audio/speech.py's `trim`)."""
from __future__ import annotations

import numpy as np


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
