"""Audio files in, checked mono waveform blocks at the model's rate out, or a one-line reason why not.

Nothing holds a whole recording: the file is decoded in blocks by libsndfile (soundfile:
MP3, WAV, FLAC, OGG, any rate and channel count, the decoder ingestion uses) and resampled
block by block with soxr's streaming resampler, so memory does not grow with duration.
Checks run cheapest first: what kind of file it is (a FIFO or device would block or never
end), the size cap, the header (declared sample rate 8-192 kHz, declared duration), then,
while decoding, non-finite samples and the duration cap. An MP3 whose frames stop short of
what its header promises is classified, with a warning.
"""
from __future__ import annotations

import dataclasses
import io
import os
import stat
from collections.abc import Iterator

import numpy as np
import soundfile
import soxr

from serving.mp3_frames import walk_frames
from serving.settings import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".oga", ".opus")
_TEXT_PREFIXES = (b"<", b"{")  # HTML, XML and JSON error bodies; no audio format starts so
_BLOCK_SECONDS = 10.0          # decoded per read, at the file's own rate
# A file whose decoded length falls short of its header's by more than this is truncated.
_TRUNCATION_TOLERANCE = 0.02
_UNKNOWN_FRAMES = 2**62


class InputError(ValueError):
    """The file cannot be classified; the message is the reason, in a few words."""


@dataclasses.dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_seconds: float
    min_seconds: float


class AudioStream:
    """One file, decoded on demand: iterate `blocks()`; afterwards `decoded_samples` and
    `warnings` tell what was found."""

    def __init__(self, path: str, sample_rate: int, limits: Limits):
        self.path, self.sample_rate, self.limits = path, sample_rate, limits
        self.decoded_samples = 0
        self.warnings: list[str] = []

    @property
    def duration_s(self) -> float:
        return self.decoded_samples / self.sample_rate

    def blocks(self) -> Iterator[np.ndarray]:
        """float32 mono blocks at `sample_rate`, in order; raises InputError with the reason."""
        with _open_regular(self.path, self.limits.max_bytes) as f:
            head = f.read(64)
            if not head:
                raise InputError("empty file")
            if head.lstrip().lower().startswith(_TEXT_PREFIXES):
                raise InputError("not audio (looks like HTML/text)")
            f.seek(0)
            try:
                sound = soundfile.SoundFile(f)
            except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
                raise InputError(f"undecodable audio ({_short(err)})") from err
            with sound:
                yield from self._decode(sound)
            if sound.format == "MP3":
                self._check_mp3(f)

    def _decode(self, sound: soundfile.SoundFile) -> Iterator[np.ndarray]:
        rate = sound.samplerate
        if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
            raise InputError(f"implausible sample rate {rate} Hz (accepted: {MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz)")
        # libsndfile reports an unknown length (a FLAC whose STREAMINFO says 0) as 2**63 - 1 frames
        declared = sound.frames / rate if 0 < sound.frames < _UNKNOWN_FRAMES else None
        if declared is not None and declared > self.limits.max_seconds:
            raise InputError(f"too long (header declares {declared:.0f} s > cap {self.limits.max_seconds:.0f} s)")
        resampler = soxr.ResampleStream(rate, self.sample_rate, 1, dtype="float32", quality="HQ") \
            if rate != self.sample_rate else None
        # libsndfile fails the read that meets the end of a stream of unknown length, losing that
        # block: such streams are read 0.1 s at a time, so at most the last 0.1 s is lost
        block = max(1, int((_BLOCK_SECONDS if declared is not None else 0.1) * rate))
        buffer = np.empty((block, sound.channels), np.float32)  # read into it: soundfile then skips tell()
        source_frames, max_samples = 0, self.limits.max_seconds * self.sample_rate
        while True:
            try:
                samples = sound.read(out=buffer)
                last = len(samples) < block
            except (soundfile.LibsndfileError, RuntimeError) as err:
                if declared is not None or source_frames == 0:
                    raise InputError(f"undecodable audio ({_short(err)})") from err
                # a stream of unknown length: libsndfile cannot locate its end, which is where it stops
                samples, last = np.zeros((0, sound.channels), np.float32), True
            mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
            if not np.all(np.isfinite(mono)):
                raise InputError("non-finite samples")
            source_frames += len(mono)
            out = resampler.resample_chunk(mono, last=last) if resampler else mono
            self.decoded_samples += len(out)
            if self.decoded_samples > max_samples:
                raise InputError(f"too long (decodes to more than the cap of {self.limits.max_seconds:.0f} s)")
            if len(out):
                yield np.clip(out, -1.0, 1.0).astype(np.float32, copy=False)
            if last:
                break
        if source_frames == 0:
            raise InputError("no audio samples")
        if declared and source_frames / rate < declared * (1 - _TRUNCATION_TOLERANCE) - 0.05:
            self.warnings.append(f"truncated (decoded {source_frames / rate:.2f} s of the {declared:.2f} s "
                                 "its header declares)")

    def _check_mp3(self, f) -> None:
        if self.warnings:
            return
        walk = walk_frames(f, os.fstat(f.fileno()).st_size)
        if walk is not None and walk.truncated:
            self.warnings.append(f"truncated MP3 ({walk.frames} whole frames of the "
                                 f"{walk.declared_seconds:.2f} s its frames promise"
                                 f"{'; the last frame is cut' if walk.cut_frame else ''})")


def _open_regular(path: str, max_bytes: int):
    """Open a regular file for reading without ever blocking (FIFOs, devices, sockets are refused)."""
    try:
        info = os.stat(path)
    except OSError as err:
        raise InputError(f"cannot read ({err.strerror or err})") from err
    if stat.S_ISDIR(info.st_mode):
        raise InputError("is a directory with no audio files in it")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"not a regular file ({_kind(info.st_mode)})")
    if info.st_size > max_bytes:
        raise InputError(f"file too large ({info.st_size / 2**20:.1f} MiB > cap {max_bytes / 2**20:.1f} MiB)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise InputError(f"cannot read ({err.strerror or err})") from err
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between stat and open
        os.close(fd)
        raise InputError("not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a plain file"


def _short(err: Exception) -> str:
    """libsndfile's message without the 'Error opening <_io...>: ' preamble, on one line."""
    text = " ".join(str(err).split()) or type(err).__name__
    if text.startswith("Error opening") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text[:120]


def wav_bytes(waveform: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV, the format tf.audio.decode_wav (predict_wav) reads."""
    buf = io.BytesIO()
    soundfile.write(buf, waveform, sample_rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def expand_paths(paths: list[str]) -> list[str]:
    """Files as given; folders become their audio files (recursively, sorted); a folder with
    none stays itself, so it gets an error line instead of silence."""
    out = []
    for path in paths:
        if os.path.isdir(path):
            found = [os.path.join(root, n) for root, _, names in sorted(os.walk(path))
                     for n in sorted(names) if n.lower().endswith(AUDIO_EXTENSIONS)]
            out.extend(found or [path])
        else:
            out.append(path)
    return out
