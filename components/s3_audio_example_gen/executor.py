"""Beam executor of S3AudioExampleGen.

list (driver, streamed to a work file) -> fetch -> decode -> fingerprint -> trim -> segment ->
drop windows without speech (audio/speech.py, as serving) -> tf.Example -> staging TFRecords
(Beam workers, one pass: each clip is fetched and decoded once) -> speakers to splits, from
every clip's fingerprint (split_by_audio.py) -> staged segments routed to TFRecords per split,
gzipped or not.

Two kinds of trouble, two answers:
- a bad object (undecodable, truncated, implausible header, a key escaping its language
  folder, gone since the listing) is skipped, counted and listed in ingestion_report.json
  with its key and reason; more than `max_skipped_fraction` of them fails the run;
- a failing store (connections refused or reset, 5xx) is retried with backoff for
  `fetch_retry_seconds` per object; any object still unfetched fails the component, so
  nothing is trained on, or cached from, a partial corpus.

Memory does not grow with the corpus: the listing streams to a work file, the workers read
it as a text source, segments wait for their split in staging files (never in a
PCollection the runner would hold), and per-clip outcomes are reduced by a CombineFn to
counts plus bounded lists of keys.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import heapq
import json
import logging
import os
import posixpath
from collections.abc import Iterator
from typing import Any

import apache_beam as beam
import numpy as np
import tensorflow as tf
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs

from audio import speech
from audio.decode import DecodeError, decode_audio
from audio.segment import fixed_segments
from audio.stats import clip_statistics
from components.clip_stats import stats_to_features
from components.s3_audio_example_gen.ledger import (
    INGESTED,
    SKIPPED,
    Previous,
    carry_over,
    read_previous,
    settings_digest,
    span_file_prefix,
    write_ledger,
)
from components.s3_audio_example_gen.split_by_audio import SplitKeepingDuplicatesTogether
from components.speaker_split import EVAL, TRAIN, Clip, speaker_from_key
from contract import features
from contract.codec import duration_features, encode_segment, tfrecord_suffix
from storage import s3, tfrecord_crc  # noqa: F401  (tfrecord_crc: hardware CRC32C for the TFRecords)
from storage.fetch import BadObject, StoreUnavailable, describe, fetch_object
from storage.manifest import ManifestReading, read_manifest_object

# A clip with no window of speech (silence, noise, a tone) is bad data: skipped, and counted
# against max_skipped_fraction like an undecodable one.
NO_SPEECH_REASON = "no speech: no window holds speech (audio/speech.py)"
AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg")
REPORT_NAME = "ingestion_report.json"
PREVIOUS_EXAMPLES_KEY = "previous_examples"
# Custom properties of the Examples artifact that the resolver of the previous ingestion reads.
LEDGER_SETTINGS_PROPERTY = "ingestion_settings"
CORPUS_PROPERTY = "corpus_fingerprint"
FAILED_REPORTS = "failed_ingestion_reports"  # beside the examples folder: failed outputs are deleted
MAX_LISTED = 1000  # keys listed per report category; the counts are always complete
# After this many objects in a row exhausted their retry budget, a worker stops asking.
_STORE_DOWN_AFTER = 3
_NAMESPACE = "S3AudioExampleGen"
_ESCAPES = "key escapes its language folder ('.', '..' or '//' in its path)"
_INGESTED = beam.metrics.Metrics.counter(_NAMESPACE, "clips_ingested")
_CROSSING = beam.metrics.Metrics.counter(_NAMESPACE, "clips_skipped_as_crossing_duplicates")


class IngestionFailed(RuntimeError):
    """The corpus could not be ingested completely or cleanly enough to train on."""


class _Bounded:
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
        self.ignored = {"not_audio": _Bounded(), "unlisted_language": _Bounded()}
        self.rejected = _Bounded()

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


def segment_to_example(segment: np.ndarray, clip: Clip, index: int, stats: dict, real_seconds: float) -> bytes:
    # The clip's statistics (audio/stats.py) ride on each of its segments, for data validation;
    # the segment's own real duration, for the Evaluator's duration slice.
    return encode_segment(segment, label=clip.label, language=clip.language, speaker_id=clip.speaker_id,
                          source_key=clip.key, segment_index=index,
                          extra={**stats_to_features(stats), **duration_features(real_seconds)})


class _DecodeAndSegment(beam.DoFn):
    """Batches of clips (work-file lines) in; per clip out: its segments as staging records (main), its
    fingerprint (tagged PRINTS, for the split) and one outcome record (tagged OUTCOMES).

    The split is not known yet (it needs every clip's fingerprint), so segments are staged
    with their clip's key and speaker, and outcomes get their split in `settle_outcome`.
    """

    OUTCOMES = "outcomes"
    PRINTS = "fingerprints"

    def __init__(self, bucket: str, endpoint: str, sample_rate: int,
                 segment_samples: int, hop_samples: int, retry_seconds: float):
        self._bucket = bucket
        self._endpoint = endpoint
        self._rate = sample_rate
        self._segment = segment_samples
        self._hop = hop_samples
        self._retry_seconds = retry_seconds
        self._client = None
        self._store_failures_in_a_row = 0
        self._segmented = beam.metrics.Metrics.counter(_NAMESPACE, "clips_segmented")
        self._no_speech = beam.metrics.Metrics.counter(_NAMESPACE, "no_speech_windows")
        self._failures = beam.metrics.Metrics.counter(_NAMESPACE, "clips_skipped")
        self._unfetched = beam.metrics.Metrics.counter(_NAMESPACE, "clips_unfetched")

    def setup(self):
        # Two botocore attempts and short timeouts: storage.fetch's backoff owns the waiting.
        self._client = s3.make_client(self._endpoint or None, max_attempts=2, timeout_s=20)
        self._loader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fetch-decode")

    def teardown(self):
        if getattr(self, "_loader", None) is not None:
            self._loader.shutdown(wait=True)

    def process(self, lines: list[str]) -> Iterator[Any]:
        """A batch of clips (work-file lines). While one clip's windows are encoded and written here,
        the next one is fetched, decoded and cut in a background thread: the S3 wait, libsndfile
        and soxr (which release the GIL) overlap the Python work. One clip is held ahead, so
        memory stays that of two clips."""
        ahead = None
        for line in lines:
            clip = Clip(*json.loads(line))
            loading = self._start_loading(clip)
            if ahead is not None:
                yield from self._emit_clip(*ahead)
            ahead = clip, loading
        if ahead is not None:
            yield from self._emit_clip(*ahead)

    def _start_loading(self, clip: Clip):
        if self._store_failures_in_a_row >= _STORE_DOWN_AFTER:
            known = concurrent.futures.Future()
            known.set_result(("not_attempted", f"not attempted: the store failed for {_STORE_DOWN_AFTER} "
                                               "objects in a row"))
            return known
        return self._loader.submit(self._load, clip)

    def _load(self, clip: Clip) -> tuple[str, Any]:
        """Fetch, decode, describe and cut one clip into the windows that hold speech (in the loader
        thread): (outcome, payload)."""
        try:
            data = fetch_object(self._client, self._bucket, clip.key, self._retry_seconds)
        except BadObject as err:
            return "bad", f"fetch failed: {err}"
        except StoreUnavailable as err:
            return "store", str(err)
        except Exception as err:  # noqa: BLE001 - anything unforeseen counts against the store, never the data
            return "store", describe(err)
        try:
            waveform = decode_audio(data, self._rate)
        except DecodeError as err:
            return "bad", str(err)
        stats = clip_statistics(data, waveform, self._rate)
        del data
        # audio/speech.py is the one definition of speech: trim to the first and last active frame,
        # then keep only the windows the serving graph would not call no_speech (judged, as there,
        # on each window's real audio, never its zero padding), so training never sees such a window.
        voiced = speech.trim(waveform, self._rate)
        kept, dropped = [], 0
        for index, segment in enumerate(fixed_segments(voiced, self._segment, self._hop)):
            real = min(self._segment, len(voiced) - index * self._hop)
            if speech.window_has_speech(segment[:real], self._rate):
                kept.append((index, segment, real))
            else:
                dropped += 1
        return "ok", (kept, dropped, len(voiced) / self._rate, stats)

    def _emit_clip(self, clip: Clip, loading) -> Iterator[Any]:
        """One loaded clip's outputs: staging records, fingerprint and outcome, or a skip / unfetched outcome."""
        outcome, payload = loading.result()
        if outcome == "not_attempted":
            yield from self._unfetchable(clip, payload, log=False)
            return
        if outcome == "store":
            self._store_failures_in_a_row += 1
            yield from self._unfetchable(clip, payload)
            return
        self._store_failures_in_a_row = 0
        if outcome == "bad":
            yield from self._skip(clip, payload)
            return
        kept, dropped, voiced_seconds, stats = payload
        self._no_speech.inc(dropped)
        if not kept:
            yield from self._skip(clip, NO_SPEECH_REASON)
            return
        self._segmented.inc()
        envelope = stage_envelope(clip.key, clip.speaker_id)
        for index, segment, real in kept:   # index: the window's place in the clip, so example keys stay stable
            yield envelope + segment_to_example(segment, clip, index, stats, round(real / self._rate, 3))
        digest = stats[features.CLIP_FINGERPRINT]
        yield beam.pvalue.TaggedOutput(self.PRINTS, (clip.key, (digest, clip.speaker_id)))
        yield beam.pvalue.TaggedOutput(self.OUTCOMES, {
            "kind": "ingested", "language": clip.language, "speaker_id": clip.speaker_id,
            "seconds": voiced_seconds, "segments": len(kept), "no_speech_windows": dropped,
            "key": clip.key, "fingerprint": digest})

    def _skip(self, clip: Clip, reason: str):
        logging.warning("S3AudioExampleGen: skipping s3://%s/%s: %s", self._bucket, clip.key, reason)
        self._failures.inc()
        yield beam.pvalue.TaggedOutput(self.OUTCOMES, {"kind": "skipped", "key": clip.key, "reason": reason})

    def _unfetchable(self, clip: Clip, reason: str, log: bool = True):
        if log:
            logging.warning("S3AudioExampleGen: could not fetch s3://%s/%s: %s", self._bucket, clip.key, reason)
        if self._store_failures_in_a_row == _STORE_DOWN_AFTER and log:
            logging.warning("S3AudioExampleGen: the store failed for %d objects in a row; this worker will not "
                            "ask for its remaining clips (the component fails)", _STORE_DOWN_AFTER)
        self._unfetched.inc()
        yield beam.pvalue.TaggedOutput(self.OUTCOMES, {"kind": "unfetched", "key": clip.key, "reason": reason})


def stage_envelope(key: str, speaker: str) -> bytes:
    """The head of a staging record: which clip and speaker the tf.Example after it belongs to
    (JSON escapes control characters, so the first newline ends it)."""
    return json.dumps([key, speaker]).encode("utf-8") + b"\n"


class _RouteStaged(beam.DoFn):
    """A staging record -> (split, serialized tf.Example); nothing for a clip that duplicates
    audio on the other side of the split (its outcome says so, see settle_outcome)."""

    def __init__(self):
        self._segments = beam.metrics.Metrics.counter(_NAMESPACE, "segments_written")

    def process(self, record: bytes, split_of: dict[str, str], crossing: dict[str, str]):
        head, example = record.split(b"\n", 1)
        key, speaker = json.loads(head)
        if key in crossing:
            return
        self._segments.inc()
        yield split_of[speaker], example


def settle_outcome(outcome: dict, split_of: dict[str, str], crossing: dict[str, str]) -> dict:
    """A clip's outcome once the split is known: its split, or skipped as a crossing duplicate."""
    if outcome["kind"] != "ingested":
        return outcome
    if outcome["key"] in crossing:
        _CROSSING.inc()
        return {"kind": "skipped", "key": outcome["key"], "fingerprint": outcome["fingerprint"],
                "reason": f"same audio as {crossing[outcome['key']]}, on the other side of the split"}
    _INGESTED.inc()
    return {**outcome, "split": split_of[outcome["speaker_id"]]}


class TallyOutcomes(beam.CombineFn):
    """Per-clip outcomes -> counts per split and language, speaker sets, bounded key lists."""

    def create_accumulator(self):
        return {"per": {}, "speakers": {}, "skipped": [0, []], "unfetched": [0, []]}

    def add_input(self, acc, row):
        if row["kind"] == "ingested":
            entry = acc["per"].setdefault((row["split"], row["language"]), [0, 0, 0.0, 0])
            entry[0] += 1
            entry[1] += row["segments"]
            entry[2] += row["seconds"]
            entry[3] += row["no_speech_windows"]
            acc["speakers"].setdefault((row["split"], row["language"]), set()).add(row["speaker_id"])
        else:
            count_and_keys = acc[row["kind"]]
            count_and_keys[0] += 1
            count_and_keys[1] = heapq.nsmallest(MAX_LISTED, count_and_keys[1] + [(row["key"], row["reason"])])
        return acc

    def merge_accumulators(self, accumulators):
        out = self.create_accumulator()
        for acc in accumulators:
            for where, counts in acc["per"].items():
                entry = out["per"].setdefault(where, [0, 0, 0.0, 0])
                for i, value in enumerate(counts):
                    entry[i] += value
            for where, names in acc["speakers"].items():
                out["speakers"].setdefault(where, set()).update(names)
            for kind in ("skipped", "unfetched"):
                out[kind][0] += acc[kind][0]
                out[kind][1] = heapq.nsmallest(MAX_LISTED, out[kind][1] + acc[kind][1])
        return out

    def extract_output(self, acc):
        per_split: dict = {}
        for (split, language), (clips, segments, seconds, no_speech) in acc["per"].items():
            per_split.setdefault(split, {})[language] = {
                "clips": clips, "segments": segments, "seconds": round(seconds, 3), "no_speech_windows": no_speech,
                "speakers": len(acc["speakers"].get((split, language), ()))}
        return {"per_split": per_split,
                **{kind: {"count": acc[kind][0], "keys": [{"key": k, "reason": r} for k, r in acc[kind][1]]}
                   for kind in ("skipped", "unfetched")}}


class Executor(base_beam_executor.BaseBeamExecutor):
    """Writes the Examples artifact; raises when the corpus could not be ingested soundly."""

    def Do(self, input_dict, output_dict, exec_properties):
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        bucket = exec_properties["bucket"]
        prefix = exec_properties.get("prefix") or ""
        endpoint = exec_properties.get("s3_endpoint") or ""
        languages = json.loads(exec_properties["languages"])
        rate = int(exec_properties["sample_rate"])
        segment_samples = int(round(float(exec_properties["segment_seconds"]) * rate))
        hop_samples = int(round(float(exec_properties["hop_seconds"]) * rate))
        max_skipped = float(exec_properties["max_skipped_fraction"])
        retry_seconds = float(exec_properties["fetch_retry_seconds"])
        where = f"s3://{bucket}/{prefix}"
        settings = settings_digest(exec_properties)
        earlier = input_dict.get(PREVIOUS_EXAMPLES_KEY) or []
        previous, why_not = read_previous(earlier[0].uri if earlier else None, settings)
        if earlier and previous is None:
            logging.warning("S3AudioExampleGen: ingesting everything again: %s", why_not)
        span = previous.span + 1 if previous else 0

        scratch = os.path.join(examples.uri, "_scratch")
        tf.io.gfile.makedirs(scratch)
        client = s3.make_client(endpoint or None)
        try:
            manifest = read_manifest_object(client, bucket, s3.manifest_key(prefix))
            listing = list_clips(client, bucket, prefix, languages, os.path.join(scratch, "clips.jsonl"), manifest,
                                 previous)
        except Exception as err:
            raise IngestionFailed(f"could not list {where} or read its manifest: {describe(err)}") from err
        if not listing.clips:
            raise ValueError(
                f"no audio clips found under {where} in folders {languages} "
                f"(ignored: {listing.ignored_counts()}); expected keys like {prefix}{languages[0]}/clip.mp3")
        logging.info("S3AudioExampleGen: %d clips from %s: span %d, %d to ingest, %d carried over from %s, "
                     "dropped %s", listing.clips, where, span, len(listing.to_ingest), listing.carried,
                     previous.uri if previous else "-", listing.dropped)

        splits = [TRAIN, EVAL]
        examples.split_names = artifact_utils.encode_split_names(splits)
        examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
        dofn = _DecodeAndSegment(bucket, endpoint, rate, segment_samples, hop_samples,
                                 retry_seconds)
        with self._make_beam_pipeline() as pipeline:
            # (a GFile nobody wrote to is never created: an all-carried run reads no work file)
            clips = pipeline | "Clips" >> (beam.io.ReadFromText(listing.work_path) if listing.to_ingest
                                           else beam.Create([]))
            results = (clips
                       | "Spread" >> beam.Reshuffle()
                       | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=16)
                       | "DecodeAndSegment" >> beam.ParDo(dofn).with_outputs(
                           _DecodeAndSegment.OUTCOMES, _DecodeAndSegment.PRINTS, main="staged"))
            staged_files = results.staged | "Stage" >> beam.io.WriteToTFRecord(os.path.join(scratch, "staged"))
            assigned = results[_DecodeAndSegment.PRINTS] | "SplitBySpeaker" >> SplitKeepingDuplicatesTogether(
                listing.speakers_by_language, float(exec_properties["eval_fraction"]),
                int(exec_properties["split_seed"]), previous.fixed_splits() if previous else None,
                listing.carried_prints)
            split_of = beam.pvalue.AsSingleton(assigned | "SpeakerSplits" >> beam.Map(lambda a: a[0]))
            crossing = beam.pvalue.AsSingleton(assigned | "CrossingDuplicates" >> beam.Map(lambda a: a[1]))
            routed = (staged_files
                      | "ReadStaged" >> beam.io.ReadAllFromTFRecord()
                      | "Route" >> beam.ParDo(_RouteStaged(), split_of=split_of, crossing=crossing))
            for split in splits:
                (routed
                 | f"Only{split}" >> beam.Filter(lambda row, s=split: row[0] == s)
                 | f"Serialize{split}" >> beam.Map(lambda row: row[1])
                 | f"Write{split}" >> beam.io.WriteToTFRecord(
                     os.path.join(artifact_utils.get_split_uri([examples], split), span_file_prefix(span)),
                     file_name_suffix=tfrecord_suffix(exec_properties["compression"])))
            this_run = results[_DecodeAndSegment.OUTCOMES] | "Settle" >> beam.Map(
                settle_outcome, split_of=split_of, crossing=crossing)
            _write_tally(this_run, os.path.join(scratch, "tally_this_run"), "ThisRun")
            if listing.carried:  # the totals add what was carried over (else they are this run's tally)
                carried = (pipeline
                           | "Carried" >> beam.io.ReadFromText(listing.carried_path)
                           | "CarriedOutcomes" >> beam.Map(_outcome_of_ledger_row))
                _write_tally((this_run, carried) | "All" >> beam.Flatten(), os.path.join(scratch, "tally"), "")
            (this_run
             | "LedgerRows" >> beam.Map(_ledger_row, span=span, clips=listing.to_ingest)
             | "WriteLedgerRows" >> beam.io.WriteToText(os.path.join(scratch, "new_rows"), shard_name_template="",
                                                        num_shards=1))

        carried_files = carry_over(previous, examples.uri, splits, listing.dropped_keys) if previous else {}
        tally_this_run = _read_json(os.path.join(scratch, "tally_this_run"))
        tally = _read_json(os.path.join(scratch, "tally")) if listing.carried else tally_this_run
        report = build_report(tally, listing, manifest)
        # Beside the totals (per_split, segments: what the artifact holds), what this run added.
        report.update(span=span, clips_ingested=_ingested(tally_this_run), clips_total=_ingested(tally),
                      clips_carried_over=listing.carried)
        report["incremental"] = {
            "dropped": listing.dropped, "this_run": tally_this_run["per_split"],
            "previous_examples": previous.uri if previous else None, "started_over_because": why_not,
            "span_files": carried_files}
        with tf.io.gfile.GFile(os.path.join(examples.uri, REPORT_NAME), "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
        for split in splits:
            examples.set_int_custom_property(f"{split}_segments", report["segments"].get(split, 0))
        examples.set_int_custom_property("clips_skipped", report["skipped_count"])
        examples.span = span
        for name in ("clips_ingested", "clips_carried_over", "clips_total"):
            examples.set_int_custom_property(name, report[name])
        self._check(report, examples.uri, where, max_skipped, retry_seconds)
        # Last, once the examples are known good: only a complete artifact carries a ledger.
        write_ledger(examples.uri, settings, span, [listing.carried_path, os.path.join(scratch, "new_rows")])
        examples.set_string_custom_property(LEDGER_SETTINGS_PROPERTY, settings)
        examples.set_string_custom_property(CORPUS_PROPERTY, exec_properties.get("corpus_fingerprint") or "")
        tf.io.gfile.rmtree(scratch)

    @staticmethod
    def _check(report: dict, examples_uri: str, where: str, max_skipped: float, retry_seconds: float) -> None:
        """Raise when the ingestion is not fit to train on; the report survives in FAILED_REPORTS."""
        listed, unfetched, skipped = report["clips_listed"], report["unfetched_count"], report["skipped_count"]
        problem = None
        if unfetched:
            first = report["unfetched"][0]
            problem = (f"{unfetched} of {listed} objects could not be fetched from {where} (the store was "
                       f"unreachable or failing after {retry_seconds:.0f} s of retries per object; first: "
                       f"{first['key']}: {first['reason']}). Nothing from this run is kept or cached: rerun when "
                       "the store is back")
        elif skipped > max_skipped * listed:
            problem = (f"{skipped} of {listed} clips ({skipped / listed:.1%}) are bad, more than "
                       f"--max-skipped-fraction {max_skipped:g}")
        elif missing := [s for s in (TRAIN, EVAL) if not report["segments"].get(s)]:
            problem = (f"ingestion produced no segments for split(s) {missing}: {listed} clips listed, "
                       f"{skipped} skipped; the eval split needs at least two speakers in some language")
        if problem is None:
            return
        kept = os.path.join(os.path.dirname(os.path.dirname(examples_uri)), FAILED_REPORTS,
                            f"{os.path.basename(examples_uri)}.json")
        tf.io.gfile.makedirs(os.path.dirname(kept))
        with tf.io.gfile.GFile(kept, "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
        raise IngestionFailed(f"{problem}; report: {kept}")


def _write_tally(outcomes, path: str, label: str) -> None:
    (outcomes
     | f"Tally{label}" >> beam.CombineGlobally(TallyOutcomes())
     | f"TallyJson{label}" >> beam.Map(json.dumps)
     | f"WriteTally{label}" >> beam.io.WriteToText(path, shard_name_template="", num_shards=1))


def _read_json(path: str) -> dict:
    with tf.io.gfile.GFile(path) as f:
        return json.loads(f.read())


def _ingested(tally: dict) -> int:
    return sum(entry["clips"] for languages in tally["per_split"].values() for entry in languages.values())


def _outcome_of_ledger_row(line: str) -> dict:
    """An earlier ledger row as the outcome its clip had then, for the totals."""
    row = json.loads(line)
    if row["outcome"] == SKIPPED:
        return {"kind": "skipped", "key": row["key"], "reason": row["reason"]}
    return {"kind": "ingested", "key": row["key"], "split": row["split"], "language": row["language"],
            "speaker_id": row["speaker"], "seconds": row["seconds"], "segments": row["segments"],
            "no_speech_windows": row.get("no_speech_windows", 0)}


def _ledger_row(outcome: dict, span: int, clips: dict[str, tuple[str, str, str]]) -> str:
    """This run's outcome of one clip as a ledger row (components/s3_audio_example_gen/ledger.py)."""
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


def build_report(tally: dict, listing: Listing, manifest: ManifestReading) -> dict:
    """ingestion_report.json: counts always complete, key lists capped at MAX_LISTED."""
    per_split = tally["per_split"]
    several = {}
    for language, speakers in listing.speakers_by_language.items():
        for speaker in speakers:
            several.setdefault(speaker, []).append(language)
    several = {s: sorted(langs) for s, langs in several.items() if len(langs) > 1}
    skipped = sorted(listing.rejected.entries + tally["skipped"]["keys"], key=lambda e: e["key"])[:MAX_LISTED]
    return {
        "per_split": per_split,
        "segments": {s: sum(e["segments"] for e in langs.values()) for s, langs in per_split.items()},
        "clips_listed": listing.clips,
        "skipped": skipped,
        "skipped_count": listing.rejected.count + tally["skipped"]["count"],
        "unfetched": tally["unfetched"]["keys"],
        "unfetched_count": tally["unfetched"]["count"],
        "ignored_objects": listing.ignored_counts(),
        "ignored_keys": {reason: sorted(e["key"] for e in b.entries) for reason, b in listing.ignored.items()},
        "manifest": {"rows": manifest.rows_read, "problem_count": manifest.problem_count,
                     "problems": manifest.problems,
                     "speakers_in_several_languages": dict(sorted(several.items())[:MAX_LISTED])},
        "max_listed": MAX_LISTED,
    }
