"""The JSON-lines manifest codec (storage/s3.py): deterministic bytes, checked rows."""
from __future__ import annotations

import json

import pytest

from storage.s3 import decode_manifest, encode_manifest

ROWS = [{"key": "French/b__001.mp3", "speaker_id": "b", "language": "French"},
        {"key": "English/a__000.mp3", "speaker_id": "a", "language": "English", "title": "Café"}]


def test_same_rows_in_any_order_give_the_same_bytes_sorted_by_key():
    data = encode_manifest(ROWS)
    assert data == encode_manifest(list(reversed(ROWS)))
    lines = data.decode("utf-8").splitlines()
    assert [json.loads(line)["key"] for line in lines] == ["English/a__000.mp3", "French/b__001.mp3"]
    assert "Café" in lines[0]                                      # UTF-8, not \u escapes


def test_round_trip_and_blank_lines():
    data = encode_manifest(ROWS)
    assert decode_manifest(data) == sorted(ROWS, key=lambda r: r["key"])
    assert decode_manifest(b"\n" + data + b"\n  \n") == decode_manifest(data)


@pytest.mark.parametrize("line", [b'{"speaker_id": "a"}', b'["English/a.mp3"]', b'"English/a.mp3"'])
def test_a_row_without_a_key_is_refused_with_its_line_number(line):
    data = encode_manifest(ROWS[:1]) + line + b"\n"
    with pytest.raises(ValueError, match="manifest line 2"):
        decode_manifest(data)
