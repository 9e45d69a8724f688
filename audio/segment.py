"""Fixed-length segmentation of a mono waveform for ingestion (trimming is audio/speech.py's `trim`).

Where the windows start is contract/geometry.py's ingestion grid (the one window geometry);
this module only cuts and pads them.
"""
from __future__ import annotations

import numpy as np

from contract.geometry import MIN_LAST_FRACTION, ingestion_starts


def fixed_segments(waveform: np.ndarray, segment_samples: int, hop_samples: int,
                   min_last_fraction: float = MIN_LAST_FRACTION) -> list[np.ndarray]:
    """Cut windows of `segment_samples` every `hop_samples`, zero-padding the last one.

    A clip shorter than a window gives one padded window. A trailing remainder is kept as a
    padded window only if it holds at least `min_last_fraction` of a window of new audio,
    so padding never dominates a segment (contract/geometry.py's `ingestion_starts`).
    """
    segments = []
    for start in ingestion_starts(len(waveform), segment_samples, hop_samples, min_last_fraction):
        piece = waveform[start: start + segment_samples]
        if len(piece) < segment_samples:
            piece = np.pad(piece, (0, segment_samples - len(piece)))
        segments.append(np.asarray(piece, dtype=np.float32))
    return segments
