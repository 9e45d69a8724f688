"""`python -m reports.plots` as a user runs it: one PNG per augmentation and representation."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import soundfile

from audio.augment import AugmentationConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 22050


def _run(*args, cwd):
    env = {**os.environ, "PYTHONPATH": ROOT, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "reports.plots", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)


def _png_size(path: str) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_visualize_writes_one_png_per_augmentation_and_representation(tmp_path):
    t = np.arange(int(1.5 * RATE)) / RATE
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, (0.4 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32),
                    RATE)
    out = tmp_path / "viz"
    done = _run(str(clip), "--out", str(out), "--seconds", "1", "--representations", "log_mel,mfcc",
                cwd=str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    expected = ({"augmentations.png", "representations.png", "representation_log_mel.png", "representation_mfcc.png"}
                | {f"augment_{name}.png" for name in AugmentationConfig().to_dict()})
    assert set(os.listdir(out)) == expected
    assert {os.path.basename(line) for line in done.stdout.split()} == expected    # it says what it wrote
    for name in expected:
        width, height = _png_size(str(out / name))
        assert width > 100 and height > 100, name


def test_visualize_refuses_what_is_not_audio(tmp_path):
    page = tmp_path / "page.mp3"
    page.write_bytes(b"<html>not audio</html>")
    done = _run(str(page), "--out", str(tmp_path / "viz"), cwd=str(tmp_path))
    assert done.returncode == 2
    assert "cannot read" in done.stderr and "not audio" in done.stderr
    assert not (tmp_path / "viz").exists()
