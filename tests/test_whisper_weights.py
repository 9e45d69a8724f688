"""Whisper-base weights: only the pinned bytes are ever used, and the model.bin reader is exact.

The installed copy (scripts/install.sh; LANGID_WHISPER_DIR may point elsewhere) must verify;
a missing, truncated or altered file must fail with its path and the expected hash, before
any tensor is built from it.
"""
from __future__ import annotations

import os
import shutil
import struct

import numpy as np
import pytest

from models.whisper import weights as W

MODEL_SIZE, MODEL_SHA = W.FILES["model.bin"]


@pytest.fixture(scope="module")
def installed() -> str:
    return W.default_dir()


def test_installed_copy_verifies_and_parses(installed):
    w = W.load(installed)
    assert w["encoder/conv1/weight"].shape == (512, 80, 3)
    assert w["encoder/position_encodings/encodings"].shape == (1500, 512)
    assert w["decoder/projection/weight"].shape == (51865, 512)
    assert all(v.dtype != np.float16 for v in w.variables.values())  # widened to float32
    assert len(w.lang_ids) == 99 and w.languages[:6] == ("en", "zh", "de", "es", "ru", "ko")
    assert w.sot_id == 50258


def _copy_side_files(src: str, dst) -> None:
    for name in W.SIDE_FILES:
        shutil.copy(os.path.join(src, name), dst / name)


def test_missing_model_names_file_and_hash(tmp_path, installed):
    _copy_side_files(installed, tmp_path)
    with pytest.raises(W.WeightsError, match="missing") as err:
        W.load(str(tmp_path))
    assert str(tmp_path / "model.bin") in str(err.value) and MODEL_SHA in str(err.value)


def test_truncated_model_is_refused(tmp_path, installed):
    _copy_side_files(installed, tmp_path)
    with open(os.path.join(installed, "model.bin"), "rb") as f:
        (tmp_path / "model.bin").write_bytes(f.read(MODEL_SIZE // 2))
    with pytest.raises(W.WeightsError, match="truncated") as err:
        W.load(str(tmp_path))
    assert f"{MODEL_SIZE:,}" in str(err.value) and MODEL_SHA in str(err.value)


def test_altered_model_is_refused(tmp_path, installed):
    _copy_side_files(installed, tmp_path)
    data = bytearray(open(os.path.join(installed, "model.bin"), "rb").read())
    data[MODEL_SIZE // 2] ^= 0x01  # one bit inside a weight: same size, different model
    (tmp_path / "model.bin").write_bytes(bytes(data))
    with pytest.raises(W.WeightsError, match="altered") as err:
        W.load(str(tmp_path))
    assert str(tmp_path / "model.bin") in str(err.value) and MODEL_SHA in str(err.value)


def test_altered_side_file_is_refused(tmp_path, installed):
    _copy_side_files(installed, tmp_path)
    text = (tmp_path / "config.json").read_text().replace("50259", "50260", 1)  # lang ids shifted
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(W.WeightsError, match="config.json"):
        W.read_verified("config.json", str(tmp_path))


def test_install_joins_parts_and_repairs_an_altered_copy(tmp_path):
    dest = W.install(str(tmp_path / "w"))
    W.read_verified("model.bin", dest)
    with open(os.path.join(dest, "model.bin"), "r+b") as f:
        f.seek(1000)
        f.write(b"\0\0\0\0")
    W.install(dest)  # idempotent, and a damaged file is rebuilt rather than trusted
    for name in W.FILES:
        W.read_verified(name, dest)
    assert not [n for n in os.listdir(dest) if n.endswith(".partial")]


def test_reads_from_s3(s3_endpoint, installed):
    from storage import s3
    client = s3.make_client(s3_endpoint)
    s3.ensure_bucket(client, "whisper-weights")
    s3.put_bytes(client, "whisper-weights", "base/config.json",
                 open(os.path.join(installed, "config.json"), "rb").read())
    assert W.read_verified("config.json", "s3://whisper-weights/base")[:1] == b"{"
    with pytest.raises(W.WeightsError, match="missing"):
        W.read_verified("vocabulary.txt", "s3://whisper-weights/base")


def _ct2_string(s: str) -> bytes:
    return struct.pack("<H", len(s) + 1) + s.encode() + b"\0"


def test_parse_model_bin_reads_ctranslate2_layout():
    """A hand-built file in the layout of CTranslate2's ModelSpec._serialize (version 6)."""
    a = np.arange(6, dtype=np.float16).reshape(2, 3)
    b = np.array(7, dtype=np.int8)
    blob = struct.pack("<I", 6) + _ct2_string("WhisperSpec") + struct.pack("<I", 3) + struct.pack("<I", 2)
    blob += _ct2_string("enc/w") + struct.pack("<B", 2) + struct.pack("<II", 2, 3) + struct.pack("<B", 4)
    blob += struct.pack("<I", a.nbytes) + a.tobytes()
    blob += _ct2_string("enc/flag") + struct.pack("<B", 0) + struct.pack("<B", 1) + struct.pack("<I", 1) + b.tobytes()
    blob += struct.pack("<I", 1) + _ct2_string("dec/w") + _ct2_string("enc/w")
    v = W.parse_model_bin(blob)
    np.testing.assert_array_equal(v["enc/w"], a)
    assert v["enc/w"].dtype == np.float16 and v["enc/flag"] == 7 and v["dec/w"] is v["enc/w"]
    with pytest.raises(W.WeightsError, match="left after"):
        W.parse_model_bin(blob + b"\0")
