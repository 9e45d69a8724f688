"""serving.audio_input.AudioStream, the serving commands' one gate for files, without a model."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from serving.audio_input import AudioStream, InputError, Limits

RATE = 16000
LIMITS = Limits(max_bytes=2**20, max_seconds=60.0, min_seconds=0.75)


def _wav(path, seconds: float, rate: int = RATE, amplitude: float = 0.3):
    t = np.arange(int(round(seconds * rate))) / rate
    soundfile.write(path, (amplitude * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate)
    return str(path)


def _decode(path: str, limits: Limits = LIMITS) -> tuple[np.ndarray, AudioStream]:
    stream = AudioStream(path, RATE, limits)
    return np.concatenate(list(stream.blocks())), stream


def test_a_good_file_comes_back_mono_at_the_model_rate(tmp_path):
    waveform, stream = _decode(_wav(tmp_path / "ok.wav", 1.2, rate=44100))
    assert waveform.shape == (int(1.2 * RATE),) and stream.duration_s == pytest.approx(1.2)
    t = np.arange(len(waveform)) / RATE                       # the same 300 Hz tone, resampled
    reference = 0.3 * np.sin(2 * np.pi * 300 * t)
    assert np.max(np.abs(waveform[100:-100] - reference[100:-100])) < 1e-2


@pytest.mark.parametrize("make, reason", [
    (lambda p: (p.write_bytes(b""), str(p))[1], "empty file"),
    (lambda p: (p.write_bytes(b"<html>503</html>"), str(p))[1], "not audio"),
    (lambda p: (p.write_bytes(b"\0" * (2**20 + 1)), str(p))[1], "too large"),
    (lambda p: _wav(p, 1.0, rate=4000), "implausible sample rate 4000 Hz"),
    (lambda p: _wav(p, 61.0, rate=8000), "too long"),
])
def test_bad_files_get_a_reason(tmp_path, make, reason):
    with pytest.raises(InputError, match=reason):
        _decode(make(tmp_path / "bad.wav"))


def _unknown_length_flac(path, seconds: float) -> str:
    """A FLAC whose STREAMINFO says 0 samples ("unknown"): only decoding can tell its length."""
    _wav(path, seconds)                                   # written as FLAC: the suffix picks the format
    data = bytearray(path.read_bytes())
    assert data[:4] == b"fLaC"
    data[21] &= 0xF0                                      # the 36-bit total-samples field
    data[22:26] = bytes(4)
    path.write_bytes(bytes(data))
    return str(path)


def test_a_stream_of_unknown_length_is_cut_at_the_duration_cap(tmp_path):
    limits = Limits(max_bytes=2**20, max_seconds=5.0, min_seconds=0.75)
    short = _unknown_length_flac(tmp_path / "short.flac", 4.0)
    _, stream = _decode(short, limits)                     # under the cap: decoded in full
    assert stream.duration_s == pytest.approx(4.0, abs=0.11)
    with pytest.raises(InputError, match=r"too long \(decodes to more than the cap of 5 s\)"):
        _decode(_unknown_length_flac(tmp_path / "long.flac", 6.0), limits)
