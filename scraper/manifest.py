"""The clip manifest: rows keyed by S3 key, merged with the bucket's, written atomically.

Rows are only ever added or refreshed, never dropped: each write re-reads the manifest in the
bucket and merges this crawl's rows over it, then replaces it in one PUT (atomic on S3), and
writes the same bytes to a local copy via a temporary file and os.replace. A clip is uploaded
before its row is recorded, so a crash can leave an object without a row (the next crawl adds
it) but never a row without an object.
"""
from __future__ import annotations

import os
import tempfile
import threading

from scraper.parse import Item
from storage import s3


def make_row(item: Item, language: str, key: str, size: int, md5: str) -> dict:
    """One manifest row. speaker_id is a string, "" when the listing names no speaker
    (the pipeline then falls back to the file name)."""
    return {
        "key": key,
        "language": language,
        "speaker_id": item.speaker_id or "",
        "speaker_name": item.speaker_name,
        "title": item.title,
        "date": item.date,
        "tags": list(item.tags),
        "size_kb": item.size_kb,
        "mp3_url": item.mp3_url,
        "article_url": item.article_url,
        "size": size,
        "md5": md5,
    }


def write_local(path: str, data: bytes) -> None:
    """Replace path with data atomically: readers see the old file or the new, never half."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class Manifest:
    """Thread-safe rows of one bucket/prefix; `put` from workers, `flush` to persist."""

    def __init__(self, client, bucket: str, prefix: str, local_path: str | None, every: int, writable: bool = True):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.local_path = local_path
        self.every = max(1, every)
        self.writable = writable
        self._rows: dict[str, dict] = {}
        self._pending = 0
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()

    def load(self, rows: list[dict]) -> None:
        with self._lock:
            self._rows = {row["key"]: row for row in rows}

    def get(self, key: str) -> dict | None:
        with self._lock:
            return self._rows.get(key)

    def rows(self) -> list[dict]:
        with self._lock:
            return list(self._rows.values())

    def put(self, row: dict) -> None:
        """Record a row; writes the manifest once `every` rows have changed since the last write."""
        with self._lock:
            if self._rows.get(row["key"]) == row:
                return
            self._rows[row["key"]] = row
            self._pending += 1
            due = self._pending >= self.every
        if due:
            self.flush()

    def flush(self, final: bool = False) -> None:
        """Merge this crawl's rows over the bucket's manifest and write both copies.

        The bucket copy is written only when rows changed; the local copy also at the end
        (`final`), so it always mirrors the bucket after a crawl.
        """
        if not self.writable:
            return
        with self._flush_lock:
            with self._lock:
                pending = self._pending
                snapshot = dict(self._rows)
            if not pending and not final:
                return
            rows = snapshot.values()
            if pending:
                merged = {row["key"]: row for row in s3.read_manifest(self.client, self.bucket, self.prefix)}
                merged.update(snapshot)
                s3.write_manifest(self.client, self.bucket, merged.values(), self.prefix)
                rows = merged.values()
                with self._lock:
                    self._pending -= pending
                    for key, row in merged.items():  # rows another crawl added meanwhile
                        self._rows.setdefault(key, row)
            if self.local_path:
                write_local(self.local_path, s3.encode_manifest(rows))
