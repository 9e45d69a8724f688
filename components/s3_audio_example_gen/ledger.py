"""The ingestion ledger: which objects an Examples artifact holds, so a new scrape adds only new ones.

`ingested_objects.jsonl`, written last into the artifact (temp name, then rename): a header
line {"settings": digest, "span": n} and one row per clip listed by that run or carried into
it, {key, etag, language, speaker, split, span, outcome ("ingested" | "skipped"), segments,
seconds, fingerprint, reason}. An object is the same object when key, ETag (S3's MD5 of the
bytes for single-part uploads, so it survives the embedded server restarting), language and
speaker all match. The ledger is trusted only when every setting that shapes the examples
(bucket, prefix, languages, audio geometry, split seed and fraction, ingestion code version)
is unchanged (`settings_digest`); otherwise ingestion starts over from span 0.

Examples files are named `Split-{split}/span-{n}-data_tfrecord-*` (`.gz` with gzip): carrying a span over is
a file copy, unless one of its clips was deleted or changed since, then that span's files are
rewritten without those clips' segments.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field

import tensorflow as tf

from config import DataConfig, group_to_json
from contract import codec, features

LEDGER_NAME = "ingested_objects.jsonl"
INGESTED, SKIPPED = "ingested", "skipped"
_SPAN_FILE = re.compile(r"^span-(\d+)-")
# What each kind of row must hold for the listing, the split and the carry-over to use it.
_COMMON = ("key", "etag", "language", "speaker", "span")
_ROW_FIELDS = {INGESTED: _COMMON + ("split", "segments", "seconds"), SKIPPED: _COMMON + ("reason",)}


def span_file_prefix(span: int) -> str:
    return f"span-{span}-data_tfrecord"


def settings_digest(data: DataConfig, code_version: str, compression: str) -> str:
    """What must not change for earlier examples to stay valid (the corpus itself may): every
    DataConfig field on the wire but those marked KEEPS_EXAMPLES, the code and the compression."""
    plain = group_to_json(data)["fields"]
    chosen = {f.name: plain[f.name] for f in dataclasses.fields(data)
              if f.name in plain and f.metadata.get("ledger", True) is not False}
    chosen.update(code_version=code_version, compression=compression)
    return hashlib.sha256(json.dumps(chosen, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Previous:
    """An earlier successful ingestion: its artifact folder, last span and rows by key."""

    uri: str
    span: int
    rows: dict[str, dict] = field(default_factory=dict)

    def fixed_splits(self) -> dict[str, str]:
        """speaker -> split of every speaker it ingested: they keep it."""
        return {row["speaker"]: row["split"] for row in self.rows.values() if row["outcome"] == INGESTED}


def read_previous(uri: str | None, settings: str) -> tuple[Previous | None, str]:
    """(the earlier ingestion, "") or (None, why it cannot be built on)."""
    if not uri:
        return None, "no earlier ingestion in ML Metadata"
    path = os.path.join(uri, LEDGER_NAME)
    if not tf.io.gfile.exists(path):
        return None, f"{uri} has no {LEDGER_NAME} (written before incremental ingestion)"
    try:
        with tf.io.gfile.GFile(path) as f:
            header = json.loads(f.readline())
            if header.get("settings") != settings:
                return None, f"ingestion settings or code changed since {uri}"
            previous = Previous(uri, int(header["span"]))
            for number, line in enumerate(f, start=2):
                row = json.loads(line)
                fields = _ROW_FIELDS.get(row.get("outcome"))
                if fields is None:
                    raise ValueError(f"line {number} has outcome {row.get('outcome')!r}")
                missing = [name for name in fields if name not in row]
                if missing:
                    raise ValueError(f"line {number} lacks {missing}")
                previous.rows[row["key"]] = row
    except (ValueError, KeyError, TypeError, AttributeError) as err:  # never trust a ledger it cannot read whole
        return None, f"{path} is unreadable ({err})"
    return previous, ""


def write_ledger(uri: str, settings: str, span: int, row_files: list[str]) -> None:
    """Header, then the rows of each JSON-lines file in order; renamed into place when whole."""
    path = os.path.join(uri, LEDGER_NAME)
    with tf.io.gfile.GFile(path + ".tmp", "w") as out:
        out.write(json.dumps({"settings": settings, "span": span}) + "\n")
        for name in row_files:
            if tf.io.gfile.exists(name):
                with tf.io.gfile.GFile(name) as f:
                    for line in f:
                        out.write(line if line.endswith("\n") else line + "\n")
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def carry_over(previous: Previous, target_uri: str, splits: list[str], dropped: set[str]) -> dict[str, int]:
    """Copy the earlier artifact's span files into `target_uri`; spans holding a `dropped` clip are
    rewritten without its segments. Returns {"copied": files, "rewritten": files}."""
    dropped_spans = {previous.rows[key]["span"] for key in dropped if previous.rows[key]["outcome"] == INGESTED}
    counts = {"copied": 0, "rewritten": 0}
    for split in splits:
        source_dir = os.path.join(previous.uri, f"Split-{split}")
        target_dir = os.path.join(target_uri, f"Split-{split}")
        tf.io.gfile.makedirs(target_dir)
        for name in sorted(tf.io.gfile.listdir(source_dir)) if tf.io.gfile.isdir(source_dir) else []:
            match = _SPAN_FILE.match(name)
            if not match:
                continue
            source, target = os.path.join(source_dir, name), os.path.join(target_dir, name)
            if int(match.group(1)) not in dropped_spans:
                tf.io.gfile.copy(source, target, overwrite=True)
                counts["copied"] += 1
                continue
            compression = codec.compression_type([source])  # the span file's own: settings pin it per artifact
            with tf.io.TFRecordWriter(target + ".tmp", options=compression or None) as writer:
                for record in codec.records_of([source]).as_numpy_iterator():
                    example = tf.train.Example.FromString(record)
                    key = example.features.feature[features.SOURCE_KEY].bytes_list.value[0].decode()
                    if key not in dropped:
                        writer.write(record)
            tf.io.gfile.rename(target + ".tmp", target, overwrite=True)
            counts["rewritten"] += 1
    return counts


def outcome_of_ledger_row(line: str) -> dict:
    """An earlier ledger row as the outcome its clip had then, for the totals."""
    row = json.loads(line)
    if row["outcome"] == SKIPPED:
        return {"kind": "skipped", "key": row["key"], "reason": row["reason"]}
    return {"kind": "ingested", "key": row["key"], "split": row["split"], "language": row["language"],
            "speaker_id": row["speaker"], "seconds": row["seconds"], "segments": row["segments"],
            "no_speech_windows": row.get("no_speech_windows", 0)}


def ledger_row(outcome: dict, span: int, clips: dict[str, tuple[str, str, str]]) -> str:
    """This run's outcome of one clip as a ledger row."""
    key = outcome["key"]
    etag, language, speaker = clips[key]
    row = {"key": key, "etag": etag, "language": language, "speaker": speaker, "span": span,
           "fingerprint": outcome.get("fingerprint", "")}
    if outcome["kind"] == "ingested":
        row.update(outcome=INGESTED, split=outcome["split"], seconds=outcome["seconds"], segments=outcome["segments"],
                   no_speech_windows=outcome["no_speech_windows"])
    else:  # skipped (unfetched ones fail the run: no ledger is written)
        row.update(outcome=SKIPPED, reason=outcome["reason"])
    return json.dumps(row, sort_keys=True)
