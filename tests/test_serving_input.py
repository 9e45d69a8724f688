"""serving.audio_input.load_clip, the serving commands' one gate for files, without a model."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile

from serving.audio_input import InputError, Limits, load_clip

RATE = 16000
LIMITS = Limits(max_bytes=2**20, min_seconds=0.75)


def _wav(path, seconds: float, rate: int = RATE, amplitude: float = 0.3):
    t = np.arange(int(round(seconds * rate))) / rate
    soundfile.write(path, (amplitude * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate)
    return str(path)


def test_a_good_file_comes_back_mono_at_the_model_rate(tmp_path):
    clip = load_clip(_wav(tmp_path / "ok.wav", 1.2, rate=44100), RATE, LIMITS)
    assert clip.sample_rate == RATE and clip.waveform.shape == (int(1.2 * RATE),)
    assert clip.duration_s == pytest.approx(1.2)


@pytest.mark.parametrize("make, reason", [
    (lambda p: _wav(p, 1.0, amplitude=0.0), "silent"),
    (lambda p: _wav(p, 0.5), r"too short \(0.50 s < 0.75 s minimum\)"),
    (lambda p: (p.write_bytes(b""), str(p))[1], "empty file"),
    (lambda p: (p.write_bytes(b"<html>503</html>"), str(p))[1], "not audio"),
    (lambda p: (p.write_bytes(b"\0" * (2**20 + 1)), str(p))[1], "file too large"),
])
def test_bad_files_get_a_reason(tmp_path, make, reason):
    with pytest.raises(InputError, match=reason):
        load_clip(make(tmp_path / "bad.wav"), RATE, LIMITS)


def test_min_seconds_is_the_callers(tmp_path):
    path = _wav(tmp_path / "short.wav", 0.5)
    assert load_clip(path, RATE, Limits(max_bytes=2**20, min_seconds=0.4)).duration_s == pytest.approx(0.5)

