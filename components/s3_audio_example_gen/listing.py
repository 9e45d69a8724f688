"""The listing of S3AudioExampleGen: which objects under the prefix are clips to ingest.

The listing streams to a work file (JSON lines the Beam workers read as a text source), so
memory does not grow with the corpus; what it leaves out is counted and listed up to
MAX_LISTED keys per category. With an earlier ingestion, unchanged clips go to a second work
file of their ledger rows, to be carried over instead of fetched.
"""
from __future__ import annotations

import contextlib
import json
import os
import posixpath

import tensorflow as tf

from components.s3_audio_example_gen.ledger import INGESTED, Previous
from components.speaker_split import speaker_from_key
from storage import s3
from storage.manifest import ManifestReading

AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg")
MAX_LISTED = 1000  # keys listed per report category; the counts are always complete
_ESCAPES = "key escapes its language folder ('.', '..' or '//' in its path)"


class Bounded:
    """A count plus the MAX_LISTED smallest entries by key: a report that fits in memory."""

    def __init__(self):
        self.count, self.entries = 0, []

    def add(self, entry: dict) -> None:
        self.count += 1
        if len(self.entries) < MAX_LISTED:
            self.entries.append(entry)

    def to_json(self) -> dict:
        return {"count": self.count, "keys": sorted(self.entries, key=lambda e: e["key"])}


class Listing:
    """What the listing found: a work file of clips, speakers per language, what it left out."""

    def __init__(self, work_path: str, carried_path: str = ""):
        self.work_path = work_path
        self.carried_path = carried_path  # earlier ledger rows of unchanged objects (JSON lines)
        self.clips = 0
        self.to_ingest: dict[str, tuple[str, str, str]] = {}  # this run's clips: key -> (etag, language, speaker)
        self.carried = 0
        self.carried_prints: dict[str, tuple[str, str]] = {}  # key -> (fingerprint, speaker), for the split
        self.dropped = {"deleted": 0, "changed": 0}
        self.dropped_keys: set[str] = set()  # earlier clips whose examples must not be carried over
        self.speakers_by_language: dict[str, set[str]] = {}
        self.ignored = {"not_audio": Bounded(), "unlisted_language": Bounded()}
        self.rejected = Bounded()

    def ignored_counts(self) -> dict:
        return {reason: b.count for reason, b in self.ignored.items()}


def classify_key(relative: str, languages: set[str]) -> tuple[str, str]:
    """('clip', language) | ('not_audio'|'unlisted_language'|'rejected', reason) for a key below the prefix."""
    if not relative.lower().endswith(AUDIO_EXTENSIONS):
        return "not_audio", ""
    language = relative.split("/", 1)[0] if "/" in relative else ""
    if language not in languages:
        return "unlisted_language", ""
    if any(part in (".", "..") for part in relative.split("/")) or posixpath.normpath(relative) != relative:
        return "rejected", _ESCAPES
    return "clip", language


def list_clips(client, bucket: str, prefix: str, languages: list[str], work_path: str,
               manifest: ManifestReading, previous: Previous | None = None) -> Listing:
    """Stream the listing into `work_path` (JSON lines of clips) and tally what it skipped.

    With an earlier ingestion, a clip it already holds (same key, ETag, language and speaker)
    goes to a second work file of its ledger rows instead, to be carried over, not fetched.
    """
    label_of = {name: i for i, name in enumerate(languages)}
    listing = Listing(work_path, os.path.join(os.path.dirname(work_path), "carried.jsonl") if previous else "")
    with contextlib.ExitStack() as files:
        work = files.enter_context(tf.io.gfile.GFile(work_path, "w"))
        carried = files.enter_context(tf.io.gfile.GFile(listing.carried_path, "w")) if previous else None
        seen_before: set[str] = set()
        for obj in s3.list_objects(client, bucket, prefix):
            if obj.key == s3.manifest_key(prefix):
                continue
            kind, detail = classify_key(obj.key[len(prefix):], set(label_of))
            if kind in listing.ignored:
                listing.ignored[kind].add({"key": obj.key})
                continue
            listing.clips += 1
            if kind == "rejected":
                listing.rejected.add({"key": obj.key, "reason": detail})
                continue
            speaker = manifest.speakers.get(obj.key) or speaker_from_key(obj.key)
            listing.speakers_by_language.setdefault(detail, set()).add(speaker)
            earlier = previous.rows.get(obj.key) if previous else None
            if earlier is not None:
                seen_before.add(obj.key)
            if earlier is not None and (earlier["etag"], earlier["language"], earlier["speaker"]) == (
                    obj.etag, detail, speaker):
                carried.write(json.dumps(earlier, sort_keys=True) + "\n")
                listing.carried += 1
                if earlier["outcome"] == INGESTED and earlier.get("fingerprint"):
                    listing.carried_prints[obj.key] = (earlier["fingerprint"], speaker)
                continue
            if earlier is not None:
                listing.dropped["changed"] += 1
                listing.dropped_keys.add(obj.key)
            listing.to_ingest[obj.key] = (obj.etag, detail, speaker)
            work.write(json.dumps([obj.key, detail, label_of[detail], speaker]) + "\n")
    if previous:
        gone = set(previous.rows) - seen_before
        listing.dropped["deleted"] = len(gone)
        listing.dropped_keys |= gone
    return listing

