"""Per-clip audio statistics computed at ingestion, for data validation (no TF).

Levels are dBFS relative to a full-scale square wave: a full-scale sine has a peak of
0 dBFS and an RMS of -3.01 dBFS. Everything is measured on the decoded clip as ingestion
sees it (mono, at the pipeline's sample rate, before silence trimming), except the source
sample rate and channel count, which come from the file's header.
"""
from __future__ import annotations

import hashlib
import io

import numpy as np
import soundfile

# |sample| at or above this counts as clipped: -0.09 dBFS. A hard-clipped source keeps its
# flat tops at full scale through the downmix and resampling (decode_audio clips to [-1, 1]).
CLIP_LEVEL = 0.99
FRAME_MS = 20.0
# A 20 ms frame is silent when it is quieter than -60 dBFS, or more than 40 dB below the
# clip's loudest frame (room noise beside a loud event; the trim threshold of ingestion).
SILENCE_FLOOR_DB = -60.0
SILENCE_BELOW_PEAK_DB = 40.0
_FLOOR_DB = -120.0


def to_db(amplitude: float) -> float:
    """20 log10(amplitude), floored at -120 dB so silence stays a finite number."""
    return float(max(_FLOOR_DB, 20.0 * np.log10(max(float(amplitude), 1e-12))))


def rms_dbfs(waveform: np.ndarray) -> float:
    return to_db(np.sqrt(np.mean(np.square(waveform, dtype=np.float64)))) if waveform.size else _FLOOR_DB


def peak_dbfs(waveform: np.ndarray) -> float:
    return to_db(np.max(np.abs(waveform))) if waveform.size else _FLOOR_DB


def clipped_fraction(waveform: np.ndarray, level: float = CLIP_LEVEL) -> float:
    """Fraction of samples at or beyond `level` of full scale."""
    return float(np.mean(np.abs(waveform) >= level)) if waveform.size else 0.0


def silent_fraction(waveform: np.ndarray, sample_rate: int, frame_ms: float = FRAME_MS,
                    floor_db: float = SILENCE_FLOOR_DB, below_peak_db: float = SILENCE_BELOW_PEAK_DB) -> float:
    """Fraction of whole frames quieter than floor_db or than (loudest frame - below_peak_db)."""
    frame = max(1, int(sample_rate * frame_ms / 1000))
    n = len(waveform) // frame
    if n == 0:
        return 1.0
    frames = np.asarray(waveform[: n * frame], dtype=np.float64).reshape(n, frame)
    level = 10.0 * np.log10(np.mean(frames ** 2, axis=1) + 1e-24)
    threshold = max(floor_db, level.max() - below_peak_db)
    return float(np.mean(level < threshold))


def fingerprint(waveform: np.ndarray) -> str:
    """Digest of the decoded audio quantised to 16-bit PCM: equal for identical decoded audio.

    The same bytes uploaded under two keys, or the same audio with different tags or
    container metadata, get the same fingerprint; a re-encoding at another bitrate does not.
    """
    pcm = np.round(np.clip(waveform, -1.0, 1.0) * 32767.0).astype("<i2")
    return hashlib.sha256(pcm.tobytes()).hexdigest()[:16]


def source_format(data: bytes) -> tuple[int, int]:
    """(sample rate, channels) from the file's header; (0, 0) when libsndfile cannot tell."""
    try:
        info = soundfile.info(io.BytesIO(data))
        return int(info.samplerate), int(info.channels)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError):
        return 0, 0


def clip_statistics(data: bytes, waveform: np.ndarray, sample_rate: int) -> dict:
    """The statistics of one clip, keyed by the feature names of models/features.py."""
    from contract import features

    source_rate, channels = source_format(data)
    return {
        features.CLIP_DURATION_S: round(len(waveform) / sample_rate, 4),
        features.CLIP_RMS_DBFS: rms_dbfs(waveform),
        features.CLIP_PEAK_DBFS: peak_dbfs(waveform),
        features.CLIP_CLIPPED_FRACTION: clipped_fraction(waveform),
        features.CLIP_SILENT_FRACTION: silent_fraction(waveform, sample_rate),
        features.CLIP_SOURCE_SAMPLE_RATE: source_rate,
        features.CLIP_SOURCE_CHANNELS: channels,
        features.CLIP_FINGERPRINT: fingerprint(waveform),
    }
