"""Read a clip manifest (JSON lines) row by row, tolerating and reporting bad rows.

One broken line must not cost the whole corpus, and must not pass unseen. Rules, in order:

- A line that is not UTF-8, not JSON, not a JSON object, or has no non-empty string `key`
  is skipped and reported with its line number. A UTF-8 byte-order mark on line 1 is dropped.
- A key seen again: the first row wins; each later row is reported as a duplicate.
- `speaker_id` must be a non-empty string or an integer (not a bool). Any other type (list,
  bool, float, object) is reported and the row keeps no speaker: the clip falls back to the
  speaker encoded in its file name, like a clip with no manifest row.
- A speaker whose clips sit under several language folders is reported. It keeps one split
  for all its clips (components/speaker_split.py), so no speaker is ever on both sides.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_LISTED_PROBLEMS = 1000  # problems beyond this are counted, not listed (bounded report)
_BOM = b"\xef\xbb\xbf"


@dataclass
class ManifestReading:
    """Speaker per key from the valid rows, and what was wrong with the others."""

    speakers: dict[str, str] = field(default_factory=dict)
    problems: list[dict] = field(default_factory=list)
    problem_count: int = 0
    rows_read: int = 0

    def report(self, line: int, reason: str, key: str | None = None) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            entry = {"line": line, "reason": reason}
            if key is not None:
                entry["key"] = key
            self.problems.append(entry)


def speaker_of(value) -> tuple[str | None, str | None]:
    """(speaker id, None) for a usable `speaker_id`, (None, why not) for a wrong type, (None, None) if unset."""
    if value is None or value == "":
        return None, None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None, f"speaker_id has type {type(value).__name__}; the file-name speaker is used"
    return str(value), None


def read_manifest_lines(lines: Iterable[bytes]) -> ManifestReading:
    """Parse raw lines (bytes, without or with their newline) into a ManifestReading."""
    reading = ManifestReading()
    first_line_of: dict[str, int] = {}
    for number, raw in enumerate(lines, 1):
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError as err:
            reading.report(number, f"not UTF-8 (byte {err.start})")
            continue
        if not text:
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as err:
            reading.report(number, f"invalid JSON ({err.msg} at column {err.colno})")
            continue
        if not isinstance(row, dict):
            reading.report(number, f"not a JSON object ({type(row).__name__})")
            continue
        key = row.get("key")
        if not isinstance(key, str) or not key:
            reading.report(number, "no string 'key'")
            continue
        if key in first_line_of:
            reading.report(number, f"duplicate key (first row, at line {first_line_of[key]}, is used)", key)
            continue
        first_line_of[key] = number
        reading.rows_read += 1
        speaker, problem = speaker_of(row.get("speaker_id"))
        if problem:
            reading.report(number, problem, key)
        if speaker is not None:
            reading.speakers[key] = speaker
    return reading


def read_manifest_object(client, bucket: str, key: str) -> ManifestReading:
    """Stream the manifest object line by line; an absent manifest reads as empty."""
    import botocore.exceptions

    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except botocore.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return ManifestReading()
        raise
    return read_manifest_lines(_split_lines(body.iter_chunks(1 << 16)))


def _split_lines(chunks: Iterable[bytes]) -> Iterable[bytes]:
    """Lines on b'\\n' only (not on the other separators bytes.splitlines knows), streamed."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        yield pending
