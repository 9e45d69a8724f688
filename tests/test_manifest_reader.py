"""storage.manifest: the streamed reader gives the same answer however the bytes arrive."""
from __future__ import annotations

import json

import numpy as np

from storage.manifest import _split_lines, read_manifest_lines


def _manifest() -> bytes:
    rows = [json.dumps({"key": f"English/s{n % 7}__{n}.mp3", "speaker_id": f"s{n % 7}"}) for n in range(200)]
    rows[17] = "{broken"
    rows[42] = json.dumps({"key": "English/s1__1.mp3", "speaker_id": "dup"})  # key of row 1
    rows[99] = json.dumps({"key": "French/x.mp3", "speaker_id": 7})
    return ("\ufeff" + "\n".join(rows) + "\n").encode("utf-8")


def test_any_chunking_reads_the_same_rows_and_line_numbers():
    data = _manifest()
    whole = read_manifest_lines(data.split(b"\n"))
    assert whole.rows_read == 198 and whole.speakers["French/x.mp3"] == "7"
    assert whole.speakers["English/s1__1.mp3"] == "s1"
    assert [(p["line"], p["reason"].split(" (")[0]) for p in whole.problems] == [
        (18, "invalid JSON"), (43, "duplicate key")]
    rng = np.random.default_rng(0)
    for _ in range(20):
        cuts = sorted(rng.choice(np.arange(1, len(data)), size=int(rng.integers(1, 60)), replace=False))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]
        streamed = read_manifest_lines(_split_lines(iter(chunks)))
        assert streamed.speakers == whole.speakers and streamed.problems == whole.problems
