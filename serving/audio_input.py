"""Audio files in, checked mono 16 kHz waveforms out, or a one-line reason why not.

Decoding is audio/decode.py (soundfile + soxr: MP3, WAV, FLAC, OGG, any rate and channel
count), the same code ingestion uses, so the model hears served audio exactly as it heard
its training audio. Checks run cheapest first: the size cap before reading, the decoder,
the header's declared length (a truncated MP3 decodes "fine" up to the cut), silence and
a minimum length last.
"""
from __future__ import annotations

import dataclasses
import io
import os

import numpy as np
import soundfile

from audio.decode import DecodeError, decode_audio
from audio.segment import trim_silence

AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus")
# A file whose decoded length falls short of its header's by more than this is truncated.
_TRUNCATION_TOLERANCE = 0.02


class InputError(ValueError):
    """The file cannot be classified; the message is the reason, in a few words."""


@dataclasses.dataclass
class Limits:
    max_bytes: int
    min_seconds: float


@dataclasses.dataclass
class Clip:
    path: str
    waveform: np.ndarray     # float32, mono, at the model's sample rate
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.waveform) / self.sample_rate


def load_clip(path: str, sample_rate: int, limits: Limits) -> Clip:
    """Read, decode and check one file; raise InputError with the reason."""
    try:
        size = os.path.getsize(path)
        if size > limits.max_bytes:
            raise InputError(f"file too large ({size / 2**20:.1f} MiB > cap {limits.max_bytes / 2**20:.1f} MiB)")
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise InputError(f"cannot read ({err.strerror or err})") from err
    if not data:
        raise InputError("empty file")
    try:
        waveform = decode_audio(data, sample_rate)
    except DecodeError as err:
        raise InputError(str(err)) from err
    declared = _declared_seconds(data)
    decoded = len(waveform) / sample_rate
    if declared and decoded < declared * (1 - _TRUNCATION_TOLERANCE) - 0.05:
        raise InputError(f"truncated (decoded {decoded:.2f} s of the {declared:.2f} s its header declares)")
    if trim_silence(waveform, sample_rate).size == 0:
        raise InputError("silent (no 20 ms frame above -70 dBFS)")
    if decoded < limits.min_seconds:
        raise InputError(f"too short ({decoded:.2f} s < {limits.min_seconds:.2f} s minimum)")
    return Clip(path, waveform, sample_rate)


def _declared_seconds(data: bytes) -> float | None:
    try:
        info = soundfile.info(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - no usable header is not an error here; decoding decided
        return None
    return info.frames / info.samplerate if info.samplerate and info.frames > 0 else None


def wav_bytes(waveform: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV, the format tf.audio.decode_wav (predict_wav) reads."""
    buf = io.BytesIO()
    soundfile.write(buf, waveform, sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; folders become their audio files (recursively, sorted)."""
    out = []
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in sorted(os.walk(path)):
                out.extend(os.path.join(root, n) for n in sorted(names) if n.lower().endswith(AUDIO_EXTENSIONS))
        else:
            out.append(path)
    return out
