"""Bytes of any common audio file -> mono float32 waveform at the pipeline's sample rate.

Decoder choice, by measurement (docs/architecture.md, `bench/decoders.py`): libsndfile through
`soundfile` plus `soxr` resampling runs about 4x faster than tensorflow-io's decode_mp3 +
resample on this machine, reads MP3, WAV, FLAC and OGG from memory alike, and keeps
tensorflow-io out of the ingestion workers.
"""
from __future__ import annotations

import io

import numpy as np
import soundfile
import soxr

# Markers of bodies that are plainly not audio, checked before libsndfile, whose MPEG
# decoder is lenient enough to hunt for frame syncs inside an HTML page.
_TEXT_PREFIXES = (b"<", b"{")  # HTML, XML and JSON error bodies; no audio format starts so


class DecodeError(ValueError):
    """The bytes are not decodable audio; the message says why in a few words."""


def decode_audio(data: bytes, sample_rate: int) -> np.ndarray:
    """Decode, downmix to mono and resample to `sample_rate`; raise DecodeError on bad input."""
    if not data:
        raise DecodeError("empty object")
    head = data[:64].lstrip().lower()
    if head.startswith(_TEXT_PREFIXES):
        raise DecodeError("not audio (looks like HTML/text)")
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise DecodeError(f"undecodable audio ({_short(err)})") from err
    if samples.size == 0:
        raise DecodeError("no audio samples")
    mono = samples.mean(axis=1)
    if not np.all(np.isfinite(mono)):
        raise DecodeError("non-finite samples")
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    return np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False)


def _short(err: Exception) -> str:
    """libsndfile's message without the 'Error opening <_io.BytesIO ...>: ' preamble."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if text.startswith("Error opening") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text[:120]
