"""Bytes of any common audio file -> mono float32 waveform at the pipeline's sample rate.

Decoder choice, by measurement (docs/architecture.md, `bench/decoders.py`): libsndfile through
`soundfile` plus `soxr` resampling runs about 4x faster than tensorflow-io's decode_mp3 +
resample on this machine, reads MP3, WAV, FLAC and OGG from memory alike, and keeps
tensorflow-io out of the ingestion workers.

The bytes are checked against what their header claims before any sample is trusted: a
header that declares an implausible sample rate (a WAV claiming 1000 Hz would turn 7 s of
speech into minutes of "audio"), a body shorter than its header declares (a truncated MP3:
libsndfile reports the header's length and silently decodes less), and clips too long to
hold in memory are refused with a reason instead of being ingested wrongly.
"""
from __future__ import annotations

import io
import struct

import numpy as np
import soundfile
import soxr

# Markers of bodies that are plainly not audio, checked before libsndfile, whose MPEG
# decoder is lenient enough to hunt for frame syncs inside an HTML page.
_TEXT_PREFIXES = (b"<", b"{")  # HTML, XML and JSON error bodies; no audio format starts so

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 192_000
# Longest clip decoded whole: 20 min of 48 kHz stereo float32 is about 0.9 GB.
MAX_CLIP_SECONDS = 20 * 60
# A decoded length may fall short of the header's by encoder/decoder delay, never by more.
_SHORTFALL_SECONDS = 0.1
_SHORTFALL_FRACTION = 0.01


class DecodeError(ValueError):
    """The bytes are not decodable audio; the message says why in a few words."""


def decode_audio(data: bytes, sample_rate: int) -> np.ndarray:
    """Decode, downmix to mono and resample to `sample_rate`; raise DecodeError on bad input."""
    if not data:
        raise DecodeError("empty object")
    head = data[:64].lstrip().lower()
    if head.startswith(_TEXT_PREFIXES):
        raise DecodeError("not audio (looks like HTML/text)")
    _check_wav_chunk(data)
    try:
        with soundfile.SoundFile(io.BytesIO(data)) as f:
            rate, declared = f.samplerate, f.frames
            if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
                raise DecodeError(f"implausible sample rate {rate} Hz (accepted: {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE})")
            if 0 < declared and declared / rate > MAX_CLIP_SECONDS:
                raise DecodeError(f"too long: header declares {declared / rate:.0f} s (limit {MAX_CLIP_SECONDS} s)")
            samples = f.read(dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        if isinstance(err, DecodeError):
            raise
        raise DecodeError(f"undecodable audio ({_short(err)})") from err
    if samples.size == 0:
        raise DecodeError("no audio samples")
    decoded = samples.shape[0]
    if declared > 0 and declared - decoded > max(_SHORTFALL_SECONDS * rate, _SHORTFALL_FRACTION * declared):
        raise DecodeError(f"truncated: decoded {decoded / rate:.2f} s of the {declared / rate:.2f} s "
                          "its header declares")
    # A matrix-vector product, not samples.mean(axis=1): numpy reduces a 2-column array row by
    # row, which took longer than decoding the MP3 (0.83 vs 0.73 ms per audio second, 48 kHz stereo).
    channels = samples.shape[1]
    mono = samples[:, 0] if channels == 1 else samples @ np.full(channels, 1.0 / channels, dtype=np.float32)
    if not np.all(np.isfinite(mono)):
        raise DecodeError("non-finite samples")
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ")
    return np.clip(mono, -1.0, 1.0).astype(np.float32, copy=False)


def _check_wav_chunk(data: bytes) -> None:
    """A RIFF/WAVE body whose `data` chunk declares more bytes than it holds is truncated.

    libsndfile quietly shrinks such a chunk to what is there, so its length cannot tell.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset:offset + 4], struct.unpack("<I", data[offset + 4:offset + 8])[0]
        if chunk_id == b"data":
            held = len(data) - offset - 8
            if size != 0xFFFFFFFF and size > held:
                raise DecodeError(f"truncated: WAV data chunk declares {size} bytes, holds {held}")
            return
        offset += 8 + size + (size & 1)


def _short(err: Exception) -> str:
    """libsndfile's message without the 'Error opening <_io.BytesIO ...>: ' preamble."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if text.startswith("Error opening") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text[:120]
